package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
)

func newRotateCmd(e *env) *cobra.Command {
	var force bool
	var every string
	cmd := simple(e, "rotate ROLE [--force] [--every 30d]", "Set a new password on a role now (a plan and its apply), or (--every) on a schedule",
		"  stile roles rotate stile_crm_ro_0f1e2d3c\n  stile roles rotate stile_crm_ro_0f1e2d3c --every 30d\n  stile roles rotate stile_crm_ro_0f1e2d3c --every 0   # no schedule", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			path := "/api/v1/roles/" + pathEscape(a[0])
			if cmd.Flags().Changed("every") {
				d, err := parseLength(every)
				if err != nil {
					return "", usageError{msg: "--every: " + err.Error(), try: "--every 30d, 12h or 0"}
				}
				var st api.RotationStatus
				if err := c.call(cmd.Context(), "PUT", path+"/rotation", api.ScheduleRequest{EverySeconds: int64(d / time.Second)}, &st); err != nil {
					return "", err
				}
				if st.Schedule == nil {
					return a[0] + " no longer rotates on a schedule", nil
				}
				return fmt.Sprintf("%s rotates every %s; next at %s", a[0], d, st.Next.Format(time.RFC3339)), nil
			}
			var out api.RotateOutcome
			if err := c.call(cmd.Context(), "POST", path+"/rotate", api.RotateRequest{Force: force}, &out); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s has a new password (plan %s, apply %s: %s); connections through stile use it from now on", a[0], out.PlanSID, out.ApplySID, out.Status), nil
		})
	cmd.Flags().BoolVar(&force, "force", false, "rotate even though the password was revealed since it was set (whatever uses it stops working)")
	cmd.Flags().StringVar(&every, "every", "", "rotate on this schedule instead of now (30d, 12h; 0: no schedule)")
	return cmd
}

func newRotationCmd(e *env) *cobra.Command {
	return dataCmd(e, "rotation ROLE", "When a role's password was set, who revealed it since, and when it rotates next", "  stile roles rotation stile_crm_ro_0f1e2d3c", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var st api.RotationStatus
			err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(a[0])+"/rotation", nil, &st)
			return st, func(w io.Writer) error {
				fmt.Fprintf(w, "role: %s\nset: %s\n", st.Role, whenOr(st.SetAt, "before stile kept it"))
				if st.RevealedBy != "" {
					fmt.Fprintf(w, "revealed: to %s at %s (rotating it needs --force)\n", st.RevealedBy, st.RevealedAt.Format(time.RFC3339))
				}
				if st.Schedule == nil {
					_, err := fmt.Fprintln(w, "schedule: none")
					return err
				}
				fmt.Fprintf(w, "schedule: every %s (set by %s)\nnext: %s\n", time.Duration(st.Schedule.EverySeconds)*time.Second, st.Schedule.SetBy, st.Next.Format(time.RFC3339))
				if !st.Schedule.LastAttempt.IsZero() {
					fmt.Fprintf(w, "last scheduled attempt: %s", st.Schedule.LastAttempt.Format(time.RFC3339))
					if st.Schedule.LastError != "" {
						fmt.Fprintf(w, " (failed: %s)", st.Schedule.LastError)
					}
					fmt.Fprintln(w)
				}
				return nil
			}, err
		})
}

func newSuggestCmd(e *env) *cobra.Command {
	var days int
	var planIt bool
	var o output
	cmd := &cobra.Command{
		Use:   "suggest ROLE [--days 90] [--plan]",
		Short: "Propose a narrower declaration from what the role's connections ran (--plan: plan it for review)",
		Long: `Reads the statements the role's connections through stile ran in the last --days days,
parses them with PostgreSQL's parser, and proposes the role's declaration narrowed to the
scopes and table privileges they used. Privileges statements cannot show (REFERENCES, TRIGGER, MAINTAIN, CREATE, EXECUTE) are
kept. --plan plans the suggestion like any declaration: review it, then apply its sid.`,
		Example: "  stile roles suggest stile_crm_rw_0f1e2d3c --days 90\n  stile roles suggest stile_crm_rw_0f1e2d3c --plan",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var sug api.Suggestion
			if err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(a[0])+"/suggest?days="+strconv.Itoa(days), nil, &sug); err != nil {
				return err
			}
			if planIt {
				if sug.Suggested == nil {
					return errs.New(errs.Failed, "%s ran no statement on its scopes in %d days: nothing to narrow to (retire it if nobody needs it)", a[0], days)
				}
				var res struct {
					Results []api.PlanOutcome `json:"results"`
				}
				if err := c.call(cmd.Context(), "POST", "/api/v1/plans", api.PlanRequest{Items: []spec.Role{*sug.Suggested}}, &res); err != nil {
					return err
				}
				printPlanTable(e, res.Results)
				return planExit(res.Results, false)
			}
			return o.print(e, sug, func(w io.Writer) error {
				fmt.Fprintf(w, "%s: %d connection(s), %d statement(s) since %s", sug.Role, sug.Connections, sug.Statements, sug.Since.Format("2006-01-02"))
				if sug.Unreadable > 0 {
					fmt.Fprintf(w, " (%d unreadable)", sug.Unreadable)
				}
				fmt.Fprintln(w)
				for _, u := range sug.Used {
					fmt.Fprintf(w, "used: %s on %s (%d table(s))\n", strings.Join(u.Privileges, ", "), u.Scope, u.Tables)
				}
				if len(sug.UnusedPrivileges) > 0 {
					fmt.Fprintf(w, "never used: %s\n", strings.Join(sug.UnusedPrivileges, ", "))
				}
				if len(sug.UnusedScopes) > 0 {
					fmt.Fprintf(w, "scopes never used: %s\n", strings.Join(sug.UnusedScopes, ", "))
				}
				if len(sug.NotJudged) > 0 {
					fmt.Fprintf(w, "kept (statements cannot show their use): %s\n", strings.Join(sug.NotJudged, ", "))
				}
				for _, t := range sug.Outside {
					fmt.Fprintf(w, "outside its scopes: %s\n", t)
				}
				if sug.Suggested == nil {
					_, err := fmt.Fprintln(w, "no suggestion: nothing was used")
					return err
				}
				doc, err := yaml.Marshal(map[string]any{"roles": []spec.Role{*sug.Suggested}})
				if err != nil {
					return err
				}
				fmt.Fprintf(w, "\nsuggested declaration (stile roles suggest %s --plan plans it):\n%s", sug.Role, doc)
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&days, "days", 90, "how far back to read (at most 90)")
	cmd.Flags().BoolVar(&planIt, "plan", false, "plan the suggestion (a plan session to review and apply)")
	o.flags(cmd)
	return cmd
}
