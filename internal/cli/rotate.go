package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/api"
)

func newRotateCmd(e *env) *cobra.Command {
	var force bool
	var every string
	cmd := simple(e, "rotate ROLE [--force] [--every 30d]", "Set a new password on a role now (a plan and its apply), or (--every) on a schedule",
		"  stile roles rotate stile_crm_ro_0f1e2d3c\n  stile roles rotate stile_crm_ro_0f1e2d3c --every 30d\n  stile roles rotate stile_crm_ro_0f1e2d3c --every 0   # no schedule", 1,
		func(c *client, cmd *cobra.Command, a []string) (string, error) {
			path := "/api/v1/roles/" + pathEscape(a[0])
			if cmd.Flags().Changed("every") {
				d, err := parseLength(every)
				if err != nil {
					return "", usageError{msg: "--every: " + err.Error(), try: "--every 30d, 12h or 0"}
				}
				var st api.RotationStatus
				if err := c.call(cmd.Context(), "PUT", path+"/rotation", api.ScheduleRequest{EverySeconds: int64(d / time.Second)}, &st); err != nil {
					return "", err
				}
				if st.Schedule == nil {
					return a[0] + " no longer rotates on a schedule", nil
				}
				return fmt.Sprintf("%s rotates every %s; next at %s", a[0], d, st.Next.Format(time.RFC3339)), nil
			}
			var out api.RotateOutcome
			if err := c.call(cmd.Context(), "POST", path+"/rotate", api.RotateRequest{Force: force}, &out); err != nil {
				return "", err
			}
			return fmt.Sprintf("%s has a new password (plan %s, apply %s: %s); connections through stile use it from now on", a[0], out.PlanSID, out.ApplySID, out.Status), nil
		})
	cmd.Flags().BoolVar(&force, "force", false, "rotate even though the password was revealed since it was set (whatever uses it stops working)")
	cmd.Flags().StringVar(&every, "every", "", "rotate on this schedule instead of now (30d, 12h; 0: no schedule)")
	return cmd
}

func newRotationCmd(e *env) *cobra.Command {
	return dataCmd(e, "rotation ROLE", "When a role's password was set, who revealed it since, and when it rotates next", "  stile roles rotation stile_crm_ro_0f1e2d3c", 1,
		func(c *client, cmd *cobra.Command, a []string) (any, func(io.Writer) error, error) {
			var st api.RotationStatus
			err := c.call(cmd.Context(), "GET", "/api/v1/roles/"+pathEscape(a[0])+"/rotation", nil, &st)
			return st, func(w io.Writer) error {
				fmt.Fprintf(w, "role: %s\nset: %s\n", st.Role, whenOr(st.SetAt, "before stile kept it"))
				if st.RevealedBy != "" {
					fmt.Fprintf(w, "revealed: to %s at %s (rotating it needs --force)\n", st.RevealedBy, st.RevealedAt.Format(time.RFC3339))
				}
				if st.Schedule == nil {
					_, err := fmt.Fprintln(w, "schedule: none")
					return err
				}
				fmt.Fprintf(w, "schedule: every %s (set by %s)\nnext: %s\n", time.Duration(st.Schedule.EverySeconds)*time.Second, st.Schedule.SetBy, st.Next.Format(time.RFC3339))
				if !st.Schedule.LastAttempt.IsZero() {
					fmt.Fprintf(w, "last scheduled attempt: %s", st.Schedule.LastAttempt.Format(time.RFC3339))
					if st.Schedule.LastError != "" {
						fmt.Fprintf(w, " (failed: %s)", st.Schedule.LastError)
					}
					fmt.Fprintln(w)
				}
				return nil
			}, err
		})
}
