package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
)

func newSessionsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "The audit trail: every health check, plan and apply",
		Example: `  stile sessions list --kind apply
  stile sessions show 986e35ce-f3fc-4f79-b136-512eada7b850`,
	}
	cmd.AddCommand(newSessionsListCmd(e), newSessionsShowCmd(e), newSessionsVerifyCmd(e))
	return cmd
}

func newSessionsVerifyCmd(e *env) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit chain: no finished session edited, deleted, reordered or added",
		Long: `Walks the store's audit chain: each finished session carries the SHA-256 of its
record and of the session before it (docs/audit-chain.md). Exits 0 when the
chain is whole, 1 naming the first session where it breaks.`,
		Example: "  stile sessions verify\n  stile sessions verify --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var rep api.ChainReport
			if err := c.call(cmd.Context(), "GET", "/api/v1/audit/chain", nil, &rep); err != nil {
				return err
			}
			err = o.print(e, rep, func(w io.Writer) error {
				if !rep.OK {
					return nil
				}
				since := ""
				if !rep.Since.IsZero() {
					since = " since " + rep.Since.Format("2006-01-02 15:04:05Z")
				}
				_, err := fmt.Fprintf(w, "ok: %d sessions chained%s, none edited, deleted, reordered or added\nhead: %d %s\n", rep.Sessions, since, rep.HeadSeq, rep.HeadHash)
				return err
			})
			if err != nil || rep.OK {
				return err
			}
			return exitError{code: 1, err: errs.New(errs.Failed, "the audit chain is broken: %s", rep.Problem)}
		},
	}
	o.flags(cmd)
	return cmd
}

func newSessionsListCmd(e *env) *cobra.Command {
	var resource, kind, status, since, until string
	var limit int
	var o output
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List sessions, newest first",
		Example: "  stile sessions list --resource analytics --kind apply --since 24h\n  stile sessions list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"resource": resource, "kind": kind, "status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(limit))
			for name, v := range map[string]string{"since": since, "until": until} {
				if v == "" {
					continue
				}
				t, err := parseWhen(v, time.Now())
				if err != nil {
					return usageError{msg: fmt.Sprintf("--%s %q: %v", name, v, err), try: "--" + name + " 90m, 7d, 2w, 2026-11-30 or 2026-11-30T08:00:00Z"}
				}
				q.Set(name, t.UTC().Format(time.RFC3339))
			}
			var res struct {
				Sessions []api.Session `json:"sessions"`
			}
			if err := c.call(cmd.Context(), "GET", "/api/v1/sessions?"+q.Encode(), nil, &res); err != nil {
				return err
			}
			return o.print(e, res, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "SID\tKIND\tRESOURCE\tROLE\tSTATUS\tEXIT\tACTOR\tCREATED")
				for _, s := range res.Sessions {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.SID, s.Kind, s.Resource, s.Role, s.Status, s.ExitCode, s.Actor, s.CreatedAt.Format("2006-01-02 15:04:05"))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "only this resource")
	cmd.Flags().StringVar(&kind, "kind", "", "only health, plan, apply, connect, reveal, approval or access")
	cmd.Flags().StringVar(&status, "status", "", "only this status")
	cmd.Flags().StringVar(&since, "since", "", "only sessions from then on: a time ago (90m, 24h, 7d, 2w) or a date (2026-11-30, RFC 3339)")
	cmd.Flags().StringVar(&until, "until", "", "only sessions before then (same forms as --since)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	o.flags(cmd)
	return cmd
}

func newSessionsShowCmd(e *env) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:     "show SID",
		Short:   "Show one session with its full input and output",
		Example: "  stile sessions show 986e35ce-f3fc-4f79-b136-512eada7b850",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var s api.Session
			if err := c.call(cmd.Context(), "GET", "/api/v1/sessions/"+pathEscape(args[0]), nil, &s); err != nil {
				return err
			}
			return o.print(e, s, func(w io.Writer) error {
				return printSession(w, s)
			})
		},
	}
	o.flags(cmd)
	return cmd
}

// printSession writes one session for people.
func printSession(w io.Writer, s api.Session) error {
	fmt.Fprintf(w, "sid: %s\nkind: %s\nresource: %s\nrole: %s\nactor: %s\nagent: %s\ncreated: %s\nfinished: %s\nstatus: %s\nexit_code: %d\n",
		s.SID, s.Kind, s.Resource, s.Role, s.Actor, s.Agent, s.CreatedAt.Format("2006-01-02T15:04:05Z"), s.FinishedAt.Format("2006-01-02T15:04:05Z"), s.Status, s.ExitCode)
	if s.Message != "" {
		fmt.Fprintf(w, "message: %s\n", s.Message)
	}
	if s.PlanSID != "" {
		fmt.Fprintf(w, "plan_sid: %s\n", s.PlanSID)
	}
	if s.AppliedBy != "" {
		fmt.Fprintf(w, "applied_by: %s\n", s.AppliedBy)
	}
	_, err := fmt.Fprintf(w, "input: %s\noutput: |\n%s", s.Input, indent(s.Output))
	return err
}

// parseWhen reads a point in time as the CLI takes it: a time ago (a Go
// duration such as 90m or 36h, or a number of days or weeks: 7d, 2w), a
// date (2006-01-02, UTC midnight) or an RFC 3339 time.
func parseWhen(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	d, err := parseLength(v)
	if err != nil {
		return time.Time{}, errors.New("not a time ago (90m, 7d, 2w) or a date")
	}
	return now.Add(-d), nil
}

// parseLength reads a length of time: a Go duration (90m, 36h) or a number
// of days or weeks (7d, 2w); never negative.
func parseLength(v string) (time.Duration, error) {
	for unit, d := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(v, unit); ok {
			if k, err := strconv.Atoi(n); err == nil && k >= 0 {
				return time.Duration(k) * d, nil
			}
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a length of time (90m, 8h, 7d, 2w)", v)
	}
	return d, nil
}

// parseUntil reads a point in the future: a date (through that day: the
// next midnight, UTC), an RFC 3339 time, or a length of time from now
// (30d).
func parseUntil(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t.AddDate(0, 0, 1), nil
	}
	d, err := parseLength(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date, an RFC 3339 time or a length of time from now (30d)", v)
	}
	return now.Add(d), nil
}
