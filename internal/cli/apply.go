package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/service"
)

func newApplyCmd(e *env) *cobra.Command {
	var sid, file string
	cmd := &cobra.Command{
		Use:   "apply [NAME --sid SID | -f result.yaml]",
		Short: "Apply reviewed plans",
		Long: `Apply a plan by its sid. The agent takes the cluster's apply lock, re-reads the catalog and
re-plans: if the role is already in the desired state nothing runs (skipped); if the state
changed since the plan, the apply is refused (drift, exit 1) and the difference is printed;
otherwise the SQL runs, one transaction per database, each verified before COMMIT.

With -f, only out-of-sync entries of a results file (from plan -o) are applied; the others
are reported as skipped.`,
		Example: `  stile resources apply analytics --sid 986e35ce-f3fc-4f79-b136-512eada7b850
  stile resources apply -f result.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			applyOne := func(resource, sid string) (service.ApplyOutcome, error) {
				var out service.ApplyOutcome
				err := c.call(cmd.Context(), "POST", "/api/v1/resources/"+pathEscape(resource)+"/apply", map[string]string{"sid": sid}, &out)
				if err != nil {
					detail(err, &out)
				}
				return out, err
			}
			switch {
			case file != "" && (len(args) > 0 || sid != ""):
				return errs.Invalidf("give either NAME --sid SID, or -f FILE, not both")
			case file == "":
				if len(args) != 1 || sid == "" {
					return errs.Invalidf("give NAME --sid SID, or -f FILE")
				}
				out, err := applyOne(args[0], sid)
				if out.SID != "" {
					fmt.Fprintf(e.stdout, "sid: %s\nplan_sid: %s\nstatus: %s\nmessage: %s\noutput: |\n%s", out.SID, out.PlanSID, out.Status, out.Message, indent(out.Output))
				}
				return err
			}
			data, err := readFile(file, e.stdin)
			if err != nil {
				return err
			}
			var rf ResultsFile
			if err := yaml.Unmarshal(data, &rf); err != nil {
				return errs.Invalidf("results file %s: %v", file, err)
			}
			if len(rf.Results) == 0 {
				return errs.Invalidf("results file %s has no results", file)
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "SID\tRESOURCE\tROLE\tSTATUS\tMESSAGE")
			var failures []error
			for _, r := range rf.Results {
				if r.Status != plan.ItemOutOfSync {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.SID, r.Resource, r.RoleName, "skipped", "plan status "+r.Status)
					continue
				}
				out, err := applyOne(r.Resource, r.SID)
				status, msg := out.Status, out.Message
				if err != nil {
					failures = append(failures, fmt.Errorf("%s/%s: %w", r.Resource, r.Role, err))
					if status == "" {
						status, msg = "failed", err.Error()
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", out.SID, r.Resource, r.RoleName, status, msg)
			}
			tw.Flush()
			if len(failures) > 0 {
				return exitError{code: 1, err: fmt.Errorf("%d apply(s) did not succeed: %w", len(failures), errors.Join(failures...))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&sid, "sid", "", "session id of the plan to apply")
	cmd.Flags().StringVarP(&file, "file", "f", "", "results file written by plan -o")
	return cmd
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	out := "  "
	for i := 0; i < len(s); i++ {
		out += string(s[i])
		if s[i] == '\n' && i+1 < len(s) {
			out += "  "
		}
	}
	if s[len(s)-1] != '\n' {
		out += "\n"
	}
	return out
}
