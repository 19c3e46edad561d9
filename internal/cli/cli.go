// Package cli is stile's command line: `stile server` and the client
// commands that talk to it over HTTP.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
)

// exitError ends a command with a specific exit code. A nil err prints
// nothing (for --detailed-exitcode's 2).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// env is the process environment the commands see; tests substitute it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Run executes the stile command line and returns its exit code. Errors are
// printed to stderr as one line, "Error: …", with a "Try: …" hint where one
// helps.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func run(ctx context.Context, args []string, e *env) int {
	stdout, stderr := e.stdout, e.stderr
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err == nil {
			return code
		}
		err = ee.err
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "Error: %s\n", msg)
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(stderr, "Try: %s\n", hint)
	}
	return code
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "stile",
		Short: "Own PostgreSQL access roles across a fleet of databases",
		Long:  "stile keeps an inventory of PostgreSQL servers, their admin credentials, and the roles declared on them.\nIt plans the minimal SQL to reach each declared role, applies it, and records every step as a session.",
		Example: `  stile server &
  stile resources import inventory.csv
  stile resources plan -f plan.yaml -o result.yaml && stile resources apply -f result.yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("url", "", "stile server URL (env STILE_URL, default http://127.0.0.1:8009)")
	// No --token: a token on the command line shows in every process list.
	root.PersistentFlags().String("token-file", "", "file holding the API token (or env STILE_TOKEN; for a loopback URL the data dir's admin.token is read)")
	root.AddCommand(newServerCmd(e), newResourcesCmd(e), newSessionsCmd(e), newMigrateStoreCmd(e), newAgentsCmd(e), newAgentCmd(e), newRolesCmd(e), newConnectCmd(e), newUsersCmd(e), newTokensCmd(e), newGroupsCmd(e), newAccessCmd(e), newApprovalsCmd(e))
	return root
}

// tokenFrom returns the token in the --token-file named by cmd's flags, or
// else the environment variable env.
func tokenFrom(cmd *cobra.Command, e *env, envVar string) (string, error) {
	path, _ := cmd.Flags().GetString("token-file")
	if path == "" {
		return e.getenv(envVar), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", errs.Invalidf("read --token-file: %v", err)
	}
	return strings.TrimSpace(string(data)), nil
}

// dataDir returns the default data directory: $STILE_DATA, else
// $XDG_DATA_HOME/stile, else ~/.local/share/stile.
func dataDir(getenv func(string) string) string {
	if d := getenv("STILE_DATA"); d != "" {
		return d
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "stile")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".local", "share", "stile")
}

// hintFor says what to try after err, chosen by what the error is (its
// code, or a refused connection), never by its text.
func hintFor(err error) string {
	code := errs.CodeOf(err)
	if ae, ok := errors.AsType[*apiError](err); ok {
		code = ae.Code
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "start the server with: stile server"
	case code == errs.Unauthorized:
		return "set STILE_TOKEN or pass --token-file (the server wrote the admin token to its data dir's admin.token)"
	case code == errs.Drift:
		return "make a new plan, review it, and apply its sid"
	}
	return ""
}
