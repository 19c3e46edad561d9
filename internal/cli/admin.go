package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
)

func newAdminCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Set the admin account stile uses on each resource",
		Example: `  printf '%s' "$PGPASSWORD" | stile resources admin set analytics --user postgres --password-stdin
  stile resources admin import admins.csv`,
	}
	cmd.AddCommand(newAdminSetCmd(e), newAdminImportCmd(e))
	return cmd
}

func newAdminSetCmd(e *env) *cobra.Command {
	var user, agentName string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "set NAME --user USER --password-stdin",
		Short: "Validate and store a resource's admin credential",
		Long: `Validate an admin credential through the agent (it must connect, and be a superuser or
have CREATEROLE) and only then store it, encrypted. The password is read from stdin so it
never appears in the process list or shell history.`,
		Example: `  printf '%s' "$PGPASSWORD" | stile resources admin set analytics --user postgres --password-stdin`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !fromStdin {
				return errs.Invalidf("the password is only read from stdin: pass --password-stdin")
			}
			password, err := readPassword(e, "Password for "+user+": ")
			if err != nil {
				return err
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			body := map[string]string{"user": user, "password": password, "agent": agentName}
			if err := c.call(cmd.Context(), "PUT", "/api/v1/resources/"+pathEscape(args[0])+"/admin", body, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "admin for %s validated and stored\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "admin user name")
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from stdin (at a terminal: a prompt, without echo)")
	cmd.Flags().StringVar(&agentName, "agent", "local", "agent that reaches the resource")
	cmd.MarkFlagRequired("user")
	return cmd
}

func newAdminImportCmd(e *env) *cobra.Command {
	var agentName string
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Validate and store admin credentials from a CSV (name,admin_user,password)",
		Long: `Each row is validated on its own through the agent; a row that fails stores nothing and says
why (authentication failed, unreachable, not privileged enough). Exits 1 if any row failed.`,
		Example: "  stile resources admin import admins.csv --agent local",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFile(args[0], e.stdin, spec.KindAdminsCSV)
			if err != nil {
				return err
			}
			c, err := newClient(cmd, e)
			if err != nil {
				return err
			}
			var res struct {
				Results []api.AdminResult `json:"results"`
			}
			callErr := c.call(cmd.Context(), "POST", "/api/v1/admins/import", map[string]string{"csv": string(data), "agent": agentName}, &res)
			if callErr != nil && !detail(callErr, &res) {
				return callErr
			}
			tw := table(e.stdout)
			fmt.Fprintln(tw, "NAME\tRESULT")
			for _, r := range res.Results {
				out := "stored"
				if !r.OK {
					out = "error: " + r.Error
				}
				fmt.Fprintf(tw, "%s\t%s\n", r.Name, out)
			}
			tw.Flush()
			return callErr
		},
	}
	cmd.Flags().StringVar(&agentName, "agent", "local", "agent that reaches the resources")
	return cmd
}

// readPassword reads one line from stdin. At a terminal it prompts on
// stderr and reads without echo, rather than wait silently showing what is
// typed.
func readPassword(e *env, prompt string) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, prompt)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil || len(pw) == 0 {
			return "", errs.Invalidf("read password: nothing was given")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errs.Invalidf("read password from stdin: nothing was given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
