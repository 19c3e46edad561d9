package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

func newReviewCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "review", Short: "Recertification campaigns: every standing grant confirmed or revoked by a due date",
		Example: "  stile review start --due 14d\n  stile review show ID --unused 90d\n  stile review revoke ID --unused 90d\n  stile review confirm ID --all"}
	var due, onDue string
	start := dataCmd(e, "start --due 14d [--on-due revoke|flag]", "Open a campaign over every standing grant in force", "  stile review start --due 14d --on-due flag", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			d, err := parseLength(due)
			if err != nil || d < time.Second {
				return nil, nil, usageError{msg: fmt.Sprintf("--due %q: not a length of time", due), try: "--due 14d"}
			}
			var camp api.Campaign
			err = c.call(cmd.Context(), "POST", "/api/v1/campaigns", api.NewCampaign{DueSeconds: int64(d / time.Second), OnDue: onDue}, &camp)
			return camp, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "campaign %s: %d standing grant(s) to confirm or revoke by %s (then %s)\n", camp.ID, camp.Pending, camp.DueAt.Format(time.RFC3339), camp.OnDue)
				return err
			}, err
		})
	start.Flags().StringVar(&due, "due", "14d", "the campaign's due date, from now")
	start.Flags().StringVar(&onDue, "on-due", api.OnDueRevoke, "what becomes of grants nobody decided by then: revoke or flag")
	list := dataCmd(e, "list", "List campaigns, newest first", "  stile review list", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			var out struct {
				Campaigns []api.Campaign `json:"campaigns"`
			}
			err := c.call(cmd.Context(), "GET", "/api/v1/campaigns", nil, &out)
			return out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "ID\tSTATUS\tDUE\tON DUE\tPENDING\tCONFIRMED\tREVOKED\tFLAGGED\tBY")
				for _, c := range out.Campaigns {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.ID, c.Status, c.DueAt.Format(time.RFC3339), c.OnDue, c.Pending, c.Confirmed, c.Revoked, c.Flagged, c.CreatedBy)
				}
				return tw.Flush()
			}, err
		})
	var unused string
	show := dataCmd(e, "show ID [--unused 90d]", "The grants of a campaign you review, their members and last use", "  stile review show 6f1c… --unused 90d", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			camp, err := fetchCampaign(c, cmd, a[0])
			if err != nil {
				return nil, nil, err
			}
			items, err := selectItems(camp, unused, false)
			if err != nil {
				return nil, nil, err
			}
			camp.Items = items
			return camp, func(w io.Writer) error {
				fmt.Fprintf(w, "campaign %s: %s, due %s (then %s); %d pending, %d confirmed, %d revoked, %d flagged\n\n", camp.ID, camp.Status, camp.DueAt.Format(time.RFC3339), camp.OnDue, camp.Pending, camp.Confirmed, camp.Revoked, camp.Flagged)
				tw := table(w)
				fmt.Fprintln(tw, "GRANT\tMEMBERS\tLAST USED\tREVIEWERS\tDECISION")
				for _, it := range camp.Items {
					var members []string
					for _, m := range it.Members {
						members = append(members, m.User)
					}
					reviewers := "administrators"
					if len(it.Reviewers) > 0 {
						reviewers = strings.Join(it.Reviewers, ",")
					}
					decision := "-"
					if it.Decision != "" {
						decision = it.Decision + " by " + it.DecidedBy
					}
					fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\n", it.Role, it.Group, strings.Join(members, ","), whenOr(it.LastUsed, "never"), reviewers, decision)
				}
				return tw.Flush()
			}, nil
		})
	show.Flags().StringVar(&unused, "unused", "", "only the grants no member used for this long (90d)")
	cmd.AddCommand(start, list, show, newDecideCmd(e, "confirm"), newDecideCmd(e, "revoke"))
	return cmd
}

func fetchCampaign(c *client, cmd *cobra.Command, id string) (api.Campaign, error) {
	var camp api.Campaign
	err := c.call(cmd.Context(), "GET", "/api/v1/campaigns/"+pathEscape(id), nil, &camp)
	return camp, err
}

// selectItems keeps camp's items no member used for unused (all when
// empty), and with pending only those still to decide.
func selectItems(camp api.Campaign, unused string, pending bool) ([]api.CampaignItem, error) {
	var since time.Time
	if unused != "" {
		d, err := parseLength(unused)
		if err != nil {
			return nil, usageError{msg: "--unused: " + err.Error(), try: "--unused 90d"}
		}
		since = camp.CreatedAt.Add(-d)
	}
	var out []api.CampaignItem
	for _, it := range camp.Items {
		if (pending && it.Decision != "") || (unused != "" && it.LastUsed.After(since)) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func newDecideCmd(e *env, verb string) *cobra.Command {
	var all bool
	var unused, note string
	cmd := simple(e, verb+" ID [ROLE/GROUP…] [--all] [--unused 90d]", map[string]string{
		"confirm": "Confirm grants of a campaign (the ones named, --all you review still pending, or --unused ones)",
		"revoke":  "Revoke grants of a campaign: their groups lose the role at once",
	}[verb], "  stile review "+verb+" 6f1c… stile_crm_ro_0f1e2d3c/analysts\n  stile review "+verb+" 6f1c… --unused 90d", -1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			if len(a) == 0 {
				return "", usageError{msg: "name the campaign", try: "stile review " + verb + " ID ROLE/GROUP"}
			}
			grants := a[1:]
			if all || unused != "" {
				if len(grants) > 0 {
					return "", usageError{msg: "name grants or select them with --all or --unused, not both", try: "stile review " + verb + " ID --unused 90d"}
				}
				camp, err := fetchCampaign(c, cmd, a[0])
				if err != nil {
					return "", err
				}
				items, err := selectItems(camp, unused, true)
				if err != nil {
					return "", err
				}
				for _, it := range items {
					grants = append(grants, it.Role+"/"+it.Group)
				}
				if len(grants) == 0 {
					return "nothing to " + verb + ": no pending grant is selected", nil
				}
			}
			var camp api.Campaign
			if err := c.call(cmd.Context(), "POST", "/api/v1/campaigns/"+pathEscape(a[0])+"/decisions", api.CampaignDecision{Grants: grants, Revoke: verb == "revoke", Note: note}, &camp); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s %d grant(s); campaign %s is %s: %d pending, %d confirmed, %d revoked", map[string]string{"confirm": "confirmed", "revoke": "revoked"}[verb], len(grants), camp.ID, camp.Status, camp.Pending, camp.Confirmed, camp.Revoked), nil
		})
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.Flags().BoolVar(&all, "all", false, "every pending grant you review")
	cmd.Flags().StringVar(&unused, "unused", "", "every pending grant no member used for this long (90d)")
	cmd.Flags().StringVar(&note, "note", "", "why (kept with each decision)")
	return cmd
}
