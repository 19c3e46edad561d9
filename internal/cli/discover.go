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
