package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
)

func newRolesCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "Resource roles: the applied roles, their connection details and passwords",
		Example: `  stile roles list
  stile roles show stile_analytics_ro_6075a443
  stile roles reveal stile_analytics_ro_6075a443`,
	}
	var listOut, showOut output
	list := &cobra.Command{
		Use:     "list",
		Short:   "List resource roles",
		Example: "  stile roles list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out struct {
				Roles []api.ResourceRole `json:"roles"`
			}
			if err := c.call(cmd.Context(), "GET", "/api/v1/roles", nil, &out); err != nil {
				return err
			}
			return listOut.print(e, out, func(w io.Writer) error {
				tw := table(w)
				fmt.Fprintln(tw, "NAME\tRESOURCE\tHOST:PORT/DATABASE\tSSLMODE\tAGENT\tSTATUS")
				for _, r := range out.Roles {
					fmt.Fprintf(tw, "%s\t%s\t%s:%d/%s\t%s\t%s\t%s\n", r.Name, r.Resource, r.Host, r.Port, r.Database, r.SSLMode, r.Agent, r.Status)
				}
				return tw.Flush()
			})
		},
	}
	listOut.flags(list)
	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a resource role's connection details (never its password)",
		Example: "  stile roles show stile_analytics_ro_6075a443",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var r api.ResourceRole
			if err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(args[0]), nil, &r); err != nil {
				return err
			}
			return showOut.print(e, r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "name: %s\nresource: %s\nrole: %s\ntype: %s\nhost: %s\nport: %d\ndatabase: %s\nsslmode: %s\nagent: %s\nhas_password: %t\nstatus: %s\n",
					r.Name, r.Resource, r.Label, r.Type, r.Host, r.Port, r.Database, r.SSLMode, r.Agent, r.HasPassword, r.Status)
				return err
			})
		},
	}
	showOut.flags(show)
	reveal := &cobra.Command{
		Use:   "reveal NAME",
		Short: "Print a resource role's password, for systems that cannot connect through stile (audited)",
		Long: `Print the password stile generated for a resource role. Every reveal is recorded as a session
(who and when, never the password). Prefer connecting through stile where you can.`,
		Example: "  stile roles reveal stile_analytics_ro_6075a443",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out struct{ Password string }
			if err := c.call(cmd.Context(), "POST", "/api/v1/roles/"+pathEscape(args[0])+"/reveal", nil, &out); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, out.Password)
			return nil
		},
	}
	var heir string
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Plan a role's retirement; apply the plan to carry it out",
		Long: `Plan the removal of a role stile declared: in every database where it owns or holds anything,
REASSIGN OWNED to the heir (each database's owner unless --heir names one) and DROP OWNED; then
end its sessions and DROP ROLE. Nothing changes until the plan is applied with
stile resources apply RESOURCE --sid SID; then the resource role goes away too.`,
		Example: `  stile roles delete stile_analytics_ro_6075a443
  stile resources apply analytics --sid <sid>`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var out api.PlanOutcome
			if err := c.call(cmd.Context(), "POST", "/api/v1/roles/"+pathEscape(args[0])+"/retire", map[string]string{"heir": heir}, &out); err != nil {
				return err
			}
			if out.Document != nil {
				text, _ := yaml.Marshal(out.Document)
				e.stdout.Write(text)
			}
			if out.Status == "failed" {
				return fmt.Errorf("retirement plan %s failed: %s", out.SID, out.Message)
			}
			fmt.Fprintf(e.stderr, "apply with: stile resources apply %s --sid %s\n", out.Resource, out.SID)
			return nil
		},
	}
	del.Flags().StringVar(&heir, "heir", "", "role that takes what the retired role owns (default: each database's owner)")
	cmd.AddCommand(list, show, reveal, del, newRotateCmd(e), newRotationCmd(e), newSuggestCmd(e))
	return cmd
}
