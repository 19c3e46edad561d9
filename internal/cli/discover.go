package cli

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

func newDiscoverCmd(e *env) *cobra.Command {
	var roles []string
	cmd := dataCmd(e, "discover NAME [--role R]…", "Every role of a resource's cluster and what it holds, managed by stile or not",
		"  stile resources discover prod-main\n  stile resources discover prod-main --role app_ro --role reporting --json", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			q := url.Values{"role": roles}
			var d api.Discovery
			err := c.call(cmd.Context(), "GET", "/api/v1/resources/"+pathEscape(a[0])+"/discover?"+q.Encode(), nil, &d)
			return d, func(w io.Writer) error { return printDiscovery(w, d) }, err
		})
	cmd.Flags().StringArrayVar(&roles, "role", nil, "only this role (repeat)")
	return cmd
}

// printDiscovery prints each role: its attributes and memberships, then
// what it holds, a line per database, schema and kind.
func printDiscovery(w io.Writer, d api.Discovery) error {
	fmt.Fprintf(w, "%s: %d role(s)\n", d.ServerVersion, len(d.Roles))
	for _, r := range d.Roles {
		var attrs []string
		for name, on := range map[string]bool{"superuser": r.Superuser, "login": r.Login, "createrole": r.CreateRole, "createdb": r.CreateDB, "replication": r.Replication, "bypassrls": r.BypassRLS, "noinherit": !r.Inherit} {
			if on {
				attrs = append(attrs, name)
			}
		}
		slices.Sort(attrs)
		fmt.Fprintf(w, "\n%s (%s)", r.Name, r.Stile)
		if len(attrs) > 0 {
			fmt.Fprintf(w, " %s", strings.Join(attrs, ", "))
		}
		fmt.Fprintln(w)
		for _, m := range r.MemberOf {
			var opts []string
			if m.AdminOption {
				opts = append(opts, "admin")
			}
			if m.Inherit {
				opts = append(opts, "inherit")
			}
			if m.Set {
				opts = append(opts, "set")
			}
			fmt.Fprintf(w, "  member of %s (%s; granted by %s)\n", m.Role, strings.Join(opts, ", "), m.Grantor)
		}
		if len(r.Members) > 0 {
			fmt.Fprintf(w, "  members: %s\n", strings.Join(r.Members, ", "))
		}
		var line, key string
		flush := func() {
			if line != "" {
				fmt.Fprintln(w, line)
			}
		}
		for _, h := range r.Holds {
			where := h.Database
			if h.Schema != "" {
				where += "." + h.Schema
			}
			k := where + " " + h.Kind
			what := h.Privilege
			if h.Of > 0 && h.Kind != "database" && h.Kind != "schema" {
				what = fmt.Sprintf("%s %d/%d", h.Privilege, h.Objects, h.Of)
			}
			if h.Default {
				k += " default for " + h.For
			}
			if k != key {
				flush()
				key, line = k, "  "+k+": "+what
				continue
			}
			line += ", " + what
		}
		flush()
	}
	for _, e := range d.Errors {
		fmt.Fprintf(w, "\nnot read: %s\n", e)
	}
	return nil
}

func newWhoCanCmd(e *env) *cobra.Command {
	var resources []string
	var all, asCSV bool
	cmd := dataCmd(e, "who-can PRIVILEGE ON DATABASE.SCHEMA.TABLE[.COLUMN] (--resource R… | --all)",
		"Every role that holds a privilege on a table or column, how, and who may use it through stile",
		"  stile access who-can SELECT ON shop.public.customers --resource prod-main\n  stile access who-can SELECT ON shop.public.customers.email --all --csv", 3,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			if !strings.EqualFold(a[1], "ON") {
				return nil, nil, usageError{msg: fmt.Sprintf("%q: expected ON between the privilege and the table", a[1]), try: "stile access who-can SELECT ON db.schema.table --all"}
			}
			if all == (len(resources) > 0) {
				return nil, nil, usageError{msg: "name the resources (--resource) or ask them all (--all)", try: "--resource prod-main or --all"}
			}
			q := url.Values{"privilege": {a[0]}, "object": {a[2]}, "resource": resources}
			var out api.WhoCan
			err := c.call(cmd.Context(), "GET", "/api/v1/who-can?"+q.Encode(), nil, &out)
			return out, func(w io.Writer) error {
				if asCSV {
					return out.WriteCSV(w)
				}
				tw := table(w)
				fmt.Fprintln(tw, "RESOURCE\tROLE\tHOW\tSCHEMA USAGE\tRLS\tSTILE\tPEOPLE")
				for _, h := range out.Holders {
					people := []string{}
					for _, u := range h.People {
						if u.Eligible {
							people = append(people, u.User+" (eligible)")
						} else {
							people = append(people, u.User)
						}
					}
					stile := h.Stile
					if len(h.Masking) > 0 {
						stile += ", masked (" + strings.Join(h.Masking, ",") + ")"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Resource, h.Role, strings.Join(h.How(), ", "), yesNo(h.SchemaUsage), yesNo(h.RLS), stile, strings.Join(people, ", "))
				}
				for _, e := range out.Errors {
					fmt.Fprintf(tw, "not asked: %s\n", e)
				}
				return tw.Flush()
			}, err
		})
	cmd.Flags().StringArrayVar(&resources, "resource", nil, "a resource to ask (repeat)")
	cmd.Flags().BoolVar(&all, "all", false, "ask every resource that has the table")
	cmd.Flags().BoolVar(&asCSV, "csv", false, "print CSV, a row per role and resource")
	return cmd
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
