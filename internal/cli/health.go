package cli

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
)

func pathEscape(s string) string { return url.PathEscape(s) }

func newHealthCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "health NAME",
		Short: "Check that stile can reach and manage a resource",
		Long: `Connect to the resource with its admin credential through its agent. Prints status: ok and
exits 0, or the error and exits 1. Also reports the server version, whether the admin can
manage roles (superuser or CREATEROLE), whether TLS is in use, and for each database whether
the admin can act for its owner. Standbys are refused.`,
		Example: "  stile resources health analytics\n  stile resources health analytics --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res api.HealthResult
			callErr := c.call(cmd.Context(), "POST", "/api/v1/resources/"+pathEscape(args[0])+"/health", nil, &res)
			if callErr != nil && !detail(callErr, &res) {
				return callErr
			}
			if asJSON {
				printJSON(e.stdout, res)
			} else if res.Health.ServerVersion == "" {
				// It never got in: nothing else was checked, so nothing
				// else is said.
				fmt.Fprintf(e.stdout, "status: %s\nerror: %s\nsid: %s\n", res.Health.Status, res.Health.Error, res.SID)
			} else {
				out, _ := yaml.Marshal(res.Health)
				fmt.Fprintf(e.stdout, "%ssid: %s\n", out, res.SID)
			}
			return callErr
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
