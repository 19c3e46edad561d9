package cli

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"
)

func newReportCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "report",
		Short:   "Compliance reports",
		Example: "  stile report access --format csv -o access-review.csv",
	}
	cmd.AddCommand(newReportAccessCmd(e))
	return cmd
}

func newReportAccessCmd(e *env) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "access",
		Short: "The access review: every role, what it can do, who may use it, who granted that, and each person's last use",
		Long: `The access review of every resource role (SOC 2 / ISO 27001 style): its declared
scopes and privileges and whether the cluster matched when last planned, who
applied it, the groups that may use it and who granted each, the people in them
with their last use, and the decided approval requests. CSV has one row per
role and person; HTML is one printable file (the web app's Review page, too).`,
		Example: "  stile report access                       # JSON\n  stile report access --format csv -o review.csv\n  stile report access --format html -o review.html",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains([]string{"json", "csv", "html"}, format) {
				return usageError{msg: fmt.Sprintf("--format %q: the report's format is json, csv or html", format), try: "--format csv"}
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			resp, err := c.do(cmd.Context(), "GET", "/api/v1/reports/access?format="+format, nil, "*/*")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var w io.Writer = e.stdout
			if out != "" && out != "-" {
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			n, err := io.Copy(w, resp.Body)
			if err != nil {
				return fmt.Errorf("read the report: %w", err)
			}
			if out != "" && out != "-" {
				fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out, n)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "json, csv or html")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file (mode 0600) instead of standard output")
	return cmd
}
