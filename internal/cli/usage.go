package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

func newUsageCmd(e *env) *cobra.Command {
	report := func(c *client, cmd *cobra.Command, days int) (api.UsageReport, error) {
		var rep api.UsageReport
		err := c.call(cmd.Context(), "GET", "/api/v1/usage?days="+strconv.Itoa(days), nil, &rep)
		return rep, err
	}
	var days int
	cmd := dataCmd(e, "usage", "Who used which role: connections, time, bytes and statements per role, and what nobody used",
		"  stile usage --days 7\n  stile usage unused --days 90\n  stile usage role stile_shop_ro_1a2b3c4d\n  stile usage user ann", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			rep, err := report(c, cmd, days)
			return rep, func(w io.Writer) error {
				t := rep.Total
				fmt.Fprintf(w, "last %d days: %d connections, %s connected, %s in / %s out, %d statements\n\n", rep.Days, t.Connections, duration(t.Seconds), bytesize(t.BytesIn), bytesize(t.BytesOut), t.Statements)
				tw := table(w)
				fmt.Fprintln(tw, "ROLE\tRESOURCE\tCONNECTIONS\tCONNECTED\tBYTES OUT\tSTATEMENTS\tLAST USED")
				for _, r := range rep.Roles {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\n", r.Role, r.Resource, r.Usage.Connections, duration(r.Usage.Seconds), bytesize(r.Usage.BytesOut), r.Usage.Statements, r.LastUsed.Format("2006-01-02 15:04"))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(rep.Unused) > 0 || len(rep.UnusedGrants) > 0 {
					fmt.Fprintf(w, "\n%d roles and %d grants unused for %d days: stile usage unused --days %d\n", len(rep.Unused), len(rep.UnusedGrants), rep.Days, rep.Days)
				}
				return nil
			}, err
		})
	cmd.Flags().IntVar(&days, "days", 30, "over the last this many days (at most 90)")

	var unusedDays int
	unused := dataCmd(e, "unused", "Roles and grants nobody used: what a least-privilege review removes first",
		"  stile usage unused --days 90\n  stile usage unused --json", 0,
		func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
			rep, err := report(c, cmd, unusedDays)
			data := map[string]any{"days": rep.Days, "unused": rep.Unused, "unused_grants": rep.UnusedGrants}
			return data, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintf(tw, "ROLE\tRESOURCE\tAPPLIED\tLAST USED\tGROUPS\n")
				for _, r := range rep.Unused {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Role, r.Resource, r.Created.Format("2006-01-02"), lastUsed(r.LastUsed), orDash(r.Groups))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if len(rep.UnusedGrants) > 0 {
					fmt.Fprintln(w)
					tw = table(w)
					fmt.Fprintf(tw, "ROLE\tGROUP\tMEMBERS\tLAST USED BY A MEMBER\n")
					for _, g := range rep.UnusedGrants {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", g.Role, g.Group, g.Members, lastUsed(g.LastUsed))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
				}
				_, err := fmt.Fprintf(w, "\n%d roles and %d grants unused for %d days\n", len(rep.Unused), len(rep.UnusedGrants), rep.Days)
				return err
			}, err
		})
	unused.Flags().IntVar(&unusedDays, "days", 90, "unused for this many days (at most 90)")
	cmd.AddCommand(unused, newSubjectUsageCmd(e, "role"), newSubjectUsageCmd(e, "user"))
	return cmd
}

// newSubjectUsageCmd is `stile usage role NAME` or `stile usage user NAME`.
func newSubjectUsageCmd(e *env, kind string) *cobra.Command {
	var days int
	other := map[string]string{"role": "USER", "user": "ROLE"}[kind]
	cmd := dataCmd(e, kind+" NAME", "One "+kind+"'s use per day, and the last use of each "+map[string]string{"role": "user of it", "user": "role they used"}[kind],
		"  stile usage "+kind+" NAME --days 7", 1,
		func(c *client, cmd *cobra.Command, args []string) (any, func(io.Writer) error, error) {
			var u api.SubjectUsage
			err := c.call(cmd.Context(), "GET", "/api/v1/usage/"+kind+"s/"+pathEscape(args[0])+"?days="+strconv.Itoa(days), nil, &u)
			return u, func(w io.Writer) error {
				fmt.Fprintf(w, "%s %s, last %d days: %d connections, %s connected, %s in / %s out, %d statements; last used %s\n\n", kind, u.Name, u.Days,
					u.Usage.Connections, duration(u.Usage.Seconds), bytesize(u.Usage.BytesIn), bytesize(u.Usage.BytesOut), u.Usage.Statements, lastUsed(u.LastUsed))
				tw := table(w)
				fmt.Fprintln(tw, "DAY\tCONNECTIONS\tCONNECTED\tSTATEMENTS")
				for i, d := range u.Daily {
					if d.Connections > 0 {
						fmt.Fprintf(tw, "%s\t%d\t%s\t%d\n", u.Today.AddDate(0, 0, i-len(u.Daily)+1).Format("2006-01-02"), d.Connections, duration(d.Seconds), d.Statements)
					}
				}
				tw.Flush()
				fmt.Fprintln(w)
				tw = table(w)
				fmt.Fprintf(tw, "%s\tLAST USED\tCONNECTIONS\n", other)
				for _, l := range u.LastUses {
					name := l.User
					if kind == "user" {
						name = l.Role
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\n", name, l.LastUsed.Format("2006-01-02 15:04"), l.Connections)
				}
				return tw.Flush()
			}, err
		})
	cmd.Flags().IntVar(&days, "days", 30, "over the last this many days (at most 90)")
	return cmd
}

func lastUsed(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format("2006-01-02")
}

func orDash(groups []string) string {
	if len(groups) == 0 {
		return "-"
	}
	return strings.Join(groups, ",")
}

// duration writes seconds for people: 3h20m, 4m5s.
func duration(s int64) string { return (time.Duration(s) * time.Second).String() }

// bytesize writes n bytes for people: 1.5MB.
func bytesize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
