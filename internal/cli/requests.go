package cli

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

// whenOr prints t in RFC 3339, or none when it is zero.
func whenOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Format(time.RFC3339)
}

// left prints how long until t, to the minute ("1h20m"), from now.
func left(t, now time.Time) string {
	if !t.After(now) {
		return "ended"
	}
	return strings.TrimSuffix(t.Sub(now).Round(time.Minute).String(), "0s") + " left"
}

// lengthFlag reads flag name of cmd as a length of time, in seconds.
func lengthFlag(cmd *cobra.Command, name string) (int64, error) {
	v, _ := cmd.Flags().GetString(name)
	d, err := parseLength(v)
	if err != nil || d < time.Second {
		return 0, usageError{msg: fmt.Sprintf("--%s %q: not a length of time of a second or more", name, v), try: "--" + name + " 90m, 8h or 7d"}
	}
	return int64(d / time.Second), nil
}

func newPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy ROLE [--max 8h] [--require-reason] [--approvers G,…] [--approvals N] [--pending 1h]",
		Short: "Show or set what a request for a role needs (flags given change it; the others stay)",
		Example: "  stile access policy stile_prod_rw_1a2b3c4d\n" +
			"  stile access policy stile_prod_rw_1a2b3c4d --max 4h --require-reason --approvers dba --approvals 2 --pending 30m",
		Args: cobra.ExactArgs(1),
	}
	var o output
	fl := cmd.Flags()
	fl.String("max", "", "the longest window a request may ask for (e.g. 4h; default 8h)")
	fl.Bool("require-reason", false, "a request must say why (--reason)")
	fl.StringSlice("approvers", nil, "groups whose members approve (empty: administrators)")
	fl.Int("approvals", 0, "how many approvers must approve (no one approves their own request)")
	fl.String("pending", "", "a request nobody decides expires after this (default 1h)")
	o.flags(cmd)
	cmd.RunE = func(cmd *cobra.Command, a []string) error {
		c, err := newClient(cmd, e)
		if err != nil {
			return err
		}
		path := "/api/v1/roles/" + pathEscape(a[0]) + "/policy"
		var p api.AccessPolicy
		if err := c.call(cmd.Context(), "GET", path, nil, &p); err != nil {
			return err
		}
		if slices.ContainsFunc([]string{"max", "require-reason", "approvers", "approvals", "pending"}, fl.Changed) {
			if fl.Changed("max") {
				if p.MaxSeconds, err = lengthFlag(cmd, "max"); err != nil {
					return err
				}
			}
			if fl.Changed("pending") {
				if p.PendingSeconds, err = lengthFlag(cmd, "pending"); err != nil {
					return err
				}
			}
			if fl.Changed("require-reason") {
				p.ReasonRequired, _ = fl.GetBool("require-reason")
			}
			if fl.Changed("approvers") {
				p.Approvers, _ = fl.GetStringSlice("approvers")
			}
			if fl.Changed("approvals") {
				p.Approvals, _ = fl.GetInt("approvals")
			}
			if err := c.call(cmd.Context(), "PUT", path, p, &p); err != nil {
				return err
			}
		}
		return o.print(e, p, func(w io.Writer) error { return printPolicy(w, p) })
	}
	return cmd
}

func printPolicy(w io.Writer, p api.AccessPolicy) error {
	who := "administrators"
	if len(p.Approvers) > 0 {
		who = "members of " + strings.Join(p.Approvers, ", ")
	}
	def := ""
	if p.Default {
		def = " (stile's defaults: no policy set)"
	}
	_, err := fmt.Fprintf(w, "role: %s%s\nmax window: %s\nreason required: %v\napprovals: %d by %s (never their own)\npending for: %s\n",
		p.Role, def, time.Duration(p.MaxSeconds)*time.Second, p.ReasonRequired, p.Approvals, who, time.Duration(p.PendingSeconds)*time.Second)
	return err
}

func newRequestCmd(e *env) *cobra.Command {
	var length, reason string
	cmd := simple(e, "request ROLE --for 2h [--reason TEXT]", "Ask for a window on a role you are eligible for; approvers are notified",
		"  stile access request stile_prod_rw_1a2b3c4d --for 2h --reason INC-1234", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			secs, err := lengthFlag(cmd, "for")
			if err != nil {
				return "", err
			}
			var r api.AccessRequest
			if err := c.call(cmd.Context(), "POST", "/api/v1/requests", api.NewAccessRequest{Role: a[0], Seconds: secs, Reason: reason}, &r); err != nil {
				return "", err
			}
			return fmt.Sprintf("request %s for %s is pending: it needs %d approval(s) by %s (stile access mine shows it)", r.ID, r.Role, r.Approvals, r.ExpiresAt.Format(time.RFC3339)), nil
		})
	cmd.Flags().StringVar(&length, "for", "", "how long the window lasts once approved (e.g. 2h)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (a ticket, an incident); the role's policy may require it")
	cmd.MarkFlagRequired("for")
	return cmd
}

func newMineCmd(e *env) *cobra.Command {
	return dataCmd(e, "mine", "What you may use or request, until when, and your requests", "  stile access mine", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			var m api.MyAccess
			err := c.call(cmd.Context(), "GET", "/api/v1/access/mine", nil, &m)
			return m, func(w io.Writer) error {
				now := time.Now()
				tw := table(w)
				fmt.Fprintln(tw, "ROLE\tACCESS\tUNTIL")
				for _, r := range m.Roles {
					access, until := "request", "-"
					switch {
					case r.Standing:
						access, until = "standing", whenOr(r.Until, "-")
					case !r.WindowEnds.IsZero():
						access, until = "window", r.WindowEnds.Format(time.RFC3339)+" ("+left(r.WindowEnds, now)+")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Role, access, until)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(m.Requests) == 0 {
					return nil
				}
				fmt.Fprintln(w)
				return requestTable(w, m.Requests, now)
			}, err
		})
}

// requestTable prints requests, a line each.
func requestTable(w io.Writer, list []api.AccessRequest, now time.Time) error {
	tw := table(w)
	fmt.Fprintln(tw, "ID\tROLE\tUSER\tFOR\tSTATUS\tAPPROVALS\tWHEN\tREASON")
	for _, r := range list {
		when := "expires " + r.ExpiresAt.Format(time.RFC3339)
		switch r.Status {
		case api.RequestApproved:
			when = "ends " + r.EndsAt.Format(time.RFC3339) + " (" + left(r.EndsAt, now) + ")"
		case api.RequestEnded:
			when = "ended " + r.EndsAt.Format(time.RFC3339)
		case api.RequestDenied, api.RequestCancelled:
			when = "by " + r.EndedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.ID, r.Role, r.User, time.Duration(r.Seconds)*time.Second, r.Status, r.Approved(), r.Approvals, when, cmp.Or(r.Reason, "-"))
	}
	return tw.Flush()
}

func newRequestsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "requests", Short: "Requests for a window on a role: the approvers' inbox and decisions",
		Example: "  stile requests list\n  stile requests approve 6f1c… --reason 'INC-1234 confirmed'\n  stile requests deny 6f1c… --reason 'use the read-only role'"}
	var status, role, user string
	list := dataCmd(e, "list", "List the requests waiting for you (--status: the others you may see)", "  stile requests list\n  stile requests list --status approved,ended --role stile_prod_rw_1a2b3c4d", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			q := url.Values{}
			if status == "" {
				q.Set("inbox", "true")
			} else if status != "all" {
				q.Set("status", status)
			}
			if role != "" {
				q.Set("role", role)
			}
			if user != "" {
				q.Set("user", user)
			}
			var out struct {
				Requests []api.AccessRequest `json:"requests"`
			}
			err := c.call(cmd.Context(), "GET", "/api/v1/requests?"+q.Encode(), nil, &out)
			return out, func(w io.Writer) error { return requestTable(w, out.Requests, time.Now()) }, err
		})
	list.Flags().StringVar(&status, "status", "", "pending, approved, denied, expired, cancelled, ended (comma-separated), or all; empty: your inbox")
	list.Flags().StringVar(&role, "role", "", "only this role's")
	list.Flags().StringVar(&user, "user", "", "only this user's")
	show := dataCmd(e, "show ID", "One request with its reviews", "  stile requests show 6f1c…", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var r api.AccessRequest
			err := c.call(cmd.Context(), "GET", "/api/v1/requests/"+pathEscape(a[0]), nil, &r)
			return r, func(w io.Writer) error {
				if err := requestTable(w, []api.AccessRequest{r}, time.Now()); err != nil {
					return err
				}
				for _, rv := range r.Reviews {
					verb := "denied"
					if rv.Approve {
						verb = "approved"
					}
					fmt.Fprintf(w, "  %s %s %s%s\n", rv.At.Format(time.RFC3339), rv.User, verb, strings.TrimSuffix(": "+rv.Reason, ": "))
				}
				return nil
			}, err
		})
	decide := func(verb, short string) *cobra.Command {
		var reason string
		c := simple(e, verb+" ID", short, "  stile requests "+verb+" 6f1c2d3e-…", 1,
			func(c *client, cmd *cobra.Command, a []string) (string, error) {
				var r api.AccessRequest
				if err := c.call(cmd.Context(), "POST", "/api/v1/requests/"+pathEscape(a[0])+"/"+verb, api.ReviewRequest{Reason: reason}, &r); err != nil {
					return "", err
				}
				out := "request " + r.ID + " is " + r.Status
				switch {
				case r.Status == api.RequestApproved:
					out += ": " + r.User + " may use " + r.Role + " until " + r.EndsAt.Format(time.RFC3339)
				case r.Status == api.RequestPending:
					out += ": " + strconv.Itoa(r.Approved()) + " of " + strconv.Itoa(r.Approvals) + " approvals"
				}
				return out, nil
			})
		if verb != "cancel" {
			c.Flags().StringVar(&reason, "reason", "", "why (kept with the decision)")
		}
		return c
	}
	cmd.AddCommand(list, show, decide("approve", "Approve a request (audited; never your own)"), decide("deny", "Deny a request (audited)"),
		decide("cancel", "Withdraw your request, or end your window early (administrators: anyone's)"))
	return cmd
}
