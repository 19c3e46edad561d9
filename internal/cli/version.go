package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/version"
)

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print stile's version, commit and Go version",
		Example: `  stile version
  stile version --json   # {"commit": …, "go": …, "version": …}`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(e.stdout, map[string]string{"version": version.Version, "commit": version.Commit(), "go": runtime.Version()})
			}
			_, err := fmt.Fprintln(e.stdout, version.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
