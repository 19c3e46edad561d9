package cli

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

// simple builds a command that makes one API call and prints a line.
func simple(e *env, use, short, example string, args int, call func(c *client, cmd *cobra.Command, args []string) (string, error)) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Example: example, Args: cobra.ExactArgs(args),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			out, err := call(c, cmd, a)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, out)
			return nil
		},
	}
}

func newUsersCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "users", Short: "People who use stile with personal tokens",
		Example: "  stile users create ann\n  stile tokens create ann\n  stile users disable ann"}
	var admin bool
	create := simple(e, "create NAME", "Add a user (--admin: may do everything)", "  stile users create ann", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "user " + a[0] + " created", c.call(cmd.Context(), "POST", "/api/v1/users", map[string]any{"name": a[0], "admin": admin}, nil)
		})
	create.Flags().BoolVar(&admin, "admin", false, "an administrator")
	list := dataCmd(e, "list", "List users", "  stile users list", 0, func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
		var out struct {
			Users []api.User `json:"users"`
		}
		err := c.call(cmd.Context(), "GET", "/api/v1/users", nil, &out)
		return out, func(w io.Writer) error {
			tw := table(w)
			fmt.Fprintln(tw, "NAME\tADMIN\tDISABLED\tSOURCE\tLAST SIGN-IN")
			for _, u := range out.Users {
				last := "-"
				if !u.LastSignIn.IsZero() {
					last = u.LastSignIn.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%v\t%v\t%s\t%s\n", u.Name, u.Admin, u.Disabled, cmp.Or(u.Source, api.SourceLocal), last)
			}
			return tw.Flush()
		}, err
	})
	disable := simple(e, "disable NAME", "Disable a user: tokens stop working, open connections close", "  stile users disable ann", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "user " + a[0] + " disabled", c.call(cmd.Context(), "POST", "/api/v1/users/"+pathEscape(a[0])+"/disable", nil, nil)
		})
	enable := simple(e, "enable NAME", "Enable a disabled user again", "  stile users enable ann", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "user " + a[0] + " enabled", c.call(cmd.Context(), "POST", "/api/v1/users/"+pathEscape(a[0])+"/disable?enable=true", nil, nil)
		})
	cmd.AddCommand(create, list, disable, enable)
	return cmd
}

func newTokensCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "tokens", Short: "Personal access tokens", Example: "  stile tokens create ann\n  stile tokens revoke 3f2a…"}
	create := &cobra.Command{
		Use: "create USER", Short: "Make a token for a user; it is shown once, only its hash is kept", Example: "  stile tokens create ann", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out struct{ ID, Token string }
			if err := c.call(cmd.Context(), "POST", "/api/v1/users/"+pathEscape(a[0])+"/tokens", nil, &out); err != nil {
				return err
			}
			// The token alone on stdout, for TOKEN=$(stile tokens create …);
			// the words for people on stderr.
			fmt.Fprintf(e.stderr, "token %s for %s (shown once; only its hash is kept)\n", out.ID, a[0])
			_, err = fmt.Fprintln(e.stdout, out.Token)
			return err
		},
	}
	revoke := simple(e, "revoke ID", "Revoke a token", "  stile tokens revoke 3f2a5c1d9e0b", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "token " + a[0] + " revoked", c.call(cmd.Context(), "DELETE", "/api/v1/tokens/"+pathEscape(a[0]), nil, nil)
		})
	list := dataCmd(e, "list USER", "List a user's tokens (ids and dates; the tokens themselves are not kept)", "  stile tokens list ann", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var out struct {
				Tokens []api.Token `json:"tokens"`
			}
			err := c.call(cmd.Context(), "GET", "/api/v1/users/"+pathEscape(a[0])+"/tokens", nil, &out)
			return out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "ID\tCREATED\tREVOKED\tEXPIRES")
				when := func(t time.Time) string {
					if t.IsZero() {
						return "-"
					}
					return t.Format(time.RFC3339)
				}
				for _, k := range out.Tokens {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.CreatedAt.Format(time.RFC3339), when(k.RevokedAt), when(k.ExpiresAt))
				}
				return tw.Flush()
			}, err
		})
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newGroupsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "groups", Short: "Groups of users, which access is granted to",
		Example: "  stile groups create analysts\n  stile groups add analysts ann"}
	create := simple(e, "create NAME", "Add a group", "  stile groups create analysts", 1, func(c *client, cmd *cobra.Command, a []string) (string, error) {
		return "group " + a[0] + " created", c.call(cmd.Context(), "POST", "/api/v1/groups", map[string]string{"name": a[0]}, nil)
	})
	add := simple(e, "add GROUP USER", "Add a user to a group", "  stile groups add analysts ann", 2, func(c *client, cmd *cobra.Command, a []string) (string, error) {
		return a[1] + " added to " + a[0], c.call(cmd.Context(), "PUT", "/api/v1/groups/"+pathEscape(a[0])+"/members/"+pathEscape(a[1]), nil, nil)
	})
	remove := simple(e, "remove GROUP USER", "Remove a user from a group", "  stile groups remove analysts ann", 2, func(c *client, cmd *cobra.Command, a []string) (string, error) {
		return a[1] + " removed from " + a[0], c.call(cmd.Context(), "DELETE", "/api/v1/groups/"+pathEscape(a[0])+"/members/"+pathEscape(a[1]), nil, nil)
	})
	list := dataCmd(e, "list", "List groups and members", "  stile groups list", 0, func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
		var out struct {
			Groups map[string][]string `json:"groups"`
		}
		err := c.call(cmd.Context(), "GET", "/api/v1/groups", nil, &out)
		return out, func(w io.Writer) error { return listTable(w, "GROUP\tMEMBERS", out.Groups) }, err
	})
	cmd.AddCommand(create, add, remove, list)
	return cmd
}

func newAccessCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "access", Short: "Which groups may use which resource roles",
		Example: "  stile access grant stile_analytics_ro_6075a443 --group analysts"}
	var group, until string
	var eligible bool
	grant := simple(e, "grant ROLE --group G [--eligible] [--until TIME]", "Let a group use a resource role (--eligible: members must request a window)",
		"  stile access grant stile_analytics_ro_6075a443 --group analysts\n  stile access grant stile_prod_rw_1a2b3c4d --group oncall --eligible\n  stile access grant stile_analytics_ro_6075a443 --group contractors --until 2027-03-31", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			req := api.GrantRequest{Eligible: eligible}
			what := "granted " + a[0] + " to " + group
			if eligible {
				what = group + " may request " + a[0]
			}
			if until != "" {
				t, err := parseUntil(until, time.Now())
				if err != nil {
					return "", usageError{msg: "--until: " + err.Error(), try: "--until 2027-03-31, 2027-03-31T18:00:00Z or 30d"}
				}
				req.Until = t.UTC()
				what += " until " + req.Until.Format(time.RFC3339)
			}
			return what, c.call(cmd.Context(), "PUT", "/api/v1/access/"+pathEscape(a[0])+"/"+pathEscape(group), req, nil)
		})
	grant.Flags().StringVar(&group, "group", "", "group")
	grant.Flags().BoolVar(&eligible, "eligible", false, "members may only request the role (stile access request), not connect at will")
	grant.Flags().StringVar(&until, "until", "", "end the grant by itself at this date, RFC 3339 time or length of time from now (30d)")
	grant.MarkFlagRequired("group")
	var rgroup string
	revoke := simple(e, "revoke ROLE --group G", "Stop a group using a resource role", "  stile access revoke stile_analytics_ro_6075a443 --group analysts", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			return "revoked " + a[0] + " from " + rgroup, c.call(cmd.Context(), "DELETE", "/api/v1/access/"+pathEscape(a[0])+"/"+pathEscape(rgroup), nil, nil)
		})
	revoke.Flags().StringVar(&rgroup, "group", "", "group")
	revoke.MarkFlagRequired("group")
	list := dataCmd(e, "list", "List access grants", "  stile access list", 0, func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
		var out struct {
			Access map[string][]string `json:"access"`
			Grants []api.Grant         `json:"grants"`
		}
		err := c.call(cmd.Context(), "GET", "/api/v1/access", nil, &out)
		return out, func(w io.Writer) error {
			tw := table(w)
			fmt.Fprintln(tw, "ROLE\tGROUP\tKIND\tUNTIL\tGRANTED BY")
			for _, g := range out.Grants {
				kind := "standing"
				if g.Eligible {
					kind = "eligible"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Role, g.Group, kind, whenOr(g.Until, "-"), cmp.Or(g.GrantedBy, "-"))
			}
			return tw.Flush()
		}, err
	})
	var off bool
	approval := simple(e, "require-approval ROLE", "Make members' connections to a role wait for an admin's approval", "  stile access require-approval stile_prod_rw_1a2b3c4d", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			method, what := "PUT", "now needs"
			if off {
				method, what = "DELETE", "no longer needs"
			}
			return a[0] + " " + what + " approval", c.call(cmd.Context(), method, "/api/v1/approval-required/"+pathEscape(a[0]), nil, nil)
		})
	approval.Flags().BoolVar(&off, "off", false, "stop requiring approval")
	cmd.AddCommand(grant, revoke, list, approval, newPolicyCmd(e), newRequestCmd(e), newMineCmd(e), newWhoCanCmd(e))
	return cmd
}

func newApprovalsCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Short: "Connection requests waiting for an admin",
		Example: "  stile approvals list\n  stile approvals approve 6f1c…"}
	var status string
	list := dataCmd(e, "list", "List approval requests", "  stile approvals list --status pending", 0, func(c *client, cmd *cobra.Command, _ []string) (any, func(io.Writer) error, error) {
		var out struct {
			Approvals []api.Approval `json:"approvals"`
		}
		err := c.call(cmd.Context(), "GET", "/api/v1/approvals?status="+url.QueryEscape(status), nil, &out)
		return out, func(w io.Writer) error {
			tw := table(w)
			fmt.Fprintln(tw, "ID\tUSER\tROLE\tDATABASE\tSTATUS\tBY")
			for _, a := range out.Approvals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.User, a.Role, a.Database, a.Status, a.DecidedBy)
			}
			return tw.Flush()
		}, err
	})
	list.Flags().StringVar(&status, "status", "pending", "pending, approved, denied, used, expired, or empty for all")
	decide := func(verb string) *cobra.Command {
		return simple(e, verb+" ID", strings.ToUpper(verb[:1])+verb[1:]+" a request (audited)", "  stile approvals "+verb+" 6f1c2d3e-…", 1,
			func(c *client, cmd *cobra.Command, a []string) (string, error) {
				return a[0] + " " + verb + "d", c.call(cmd.Context(), "POST", "/api/v1/approvals/"+pathEscape(a[0])+"/"+verb, nil, nil)
			})
	}
	cmd.AddCommand(list, decide("approve"), decide("deny"))
	return cmd
}

// listTable prints a map of names to lists as a two-column table, by name.
func listTable(w io.Writer, header string, m map[string][]string) error {
	tw := table(w)
	fmt.Fprintln(tw, header)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(tw, "%s\t%s\n", k, strings.Join(m[k], ", "))
	}
	return tw.Flush()
}
