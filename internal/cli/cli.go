// Package cli is stile's command line: the client commands that talk to
// the server over HTTP, and the agent. The server's own commands (`stile
// server`, `stile migrate-store`) come from the program (internal/daemon's
// Commands, passed to Run): the command line imports none of the server's
// insides.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/version"
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
	// browse, when set, opens a URL instead of the person's browser
	// (tests).
	browse func(url string) error
	// more are the commands the program adds (Run's more).
	more []Commands
}

// Commands makes commands the program adds to the command line, writing to
// stdout and stderr and reading the environment with getenv: the server's
// (daemon.Commands).
type Commands func(stdout, stderr io.Writer, getenv func(string) string) []*cobra.Command

// Run executes the stile command line, with the commands more makes added
// to the client's, and returns its exit code. Errors are printed to stderr
// as one line, "Error: …", with a "Try: …" hint where one helps.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, more ...Commands) int {
	return run(ctx, args, &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, more: more})
}

// Root returns stile's whole command tree, with the commands more makes
// added, for writing its reference (scripts/docs): what cobra adds when it
// runs (the completion command, --version) is added, and the root's
// description ends with the exit codes every command's help ends with
// (indented as Markdown's verbatim text, as cobra's completion help is). It
// runs nothing: the commands read no input, write to io.Discard and see an
// empty environment, so the tree does not depend on who builds it. It
// never fails.
func Root(more ...Commands) *cobra.Command {
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, more: more}
	root := newRoot(e)
	root.InitDefaultCompletionCmd()
	root.InitDefaultVersionFlag()
	// Indented by a tab, the table stays a table in Markdown and man pages.
	codes := strings.Replace(strings.TrimSpace(exitCodes), ":\n", ":\n\n", 1)
	root.Long += "\n\n" + strings.ReplaceAll(codes, "\n  ", "\n\t")
	return root
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
	code := exitCode(err)
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
	for _, more := range e.more {
		root.AddCommand(more(e.stdout, e.stderr, e.getenv)...)
	}
	root.AddCommand(newResourcesCmd(e), newSessionsCmd(e), newAgentsCmd(e), newAgentCmd(e), newRolesCmd(e), newConnectCmd(e), newUsersCmd(e), newTokensCmd(e), newGroupsCmd(e), newAccessCmd(e), newRequestsCmd(e), newReviewCmd(e), newApprovalsCmd(e), newUsageCmd(e), newReportCmd(e), newLoginCmd(e), newLogoutCmd(e), newMaskingCmd(e), newGuardrailsCmd(e), newVersionCmd(e))
	root.Version = version.String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetUsageTemplate(root.UsageTemplate() + exitCodes)
	strict(root)
	completions(root, e)
	return root
}

// Exit codes, as every command uses them (and exitCodes says).
const (
	exitFailed  = 1
	exitPending = 2 // --detailed-exitcode: changes pending
	exitDrift   = 3 // an apply refused: the cluster changed since the plan
	exitDenied  = 4 // not authenticated or not allowed
)

const exitCodes = `
Exit codes:
  0  success
  1  error
  2  changes pending (plan --detailed-exitcode)
  3  an apply was refused for drift: make a new plan
  4  not authenticated or not allowed
`

// exitCode is the exit code for an error: 3 for drift, 4 for an
// authentication or permission refusal, 1 for anything else.
func exitCode(err error) int {
	code := errs.CodeOf(err)
	if ae, ok := errors.AsType[*apiError](err); ok {
		code = ae.Code
	}
	switch code {
	case errs.Drift:
		return exitDrift
	case errs.Unauthorized, errs.Forbidden:
		return exitDenied
	}
	return exitFailed
}

// usageError is a command line stile does not understand; try is what to
// type instead, or a hint.
type usageError struct{ msg, try string }

func (e usageError) Error() string { return e.msg }

// strict makes every command refuse what it does not know, at every level:
// a group (a command with subcommands and no action of its own) answers an
// unknown subcommand with an error naming the closest ones, not with its
// help and exit 0, and every command names the argument it did not expect.
func strict(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		strict(c)
	}
	cmd.SuggestionsMinimumDistance = 2
	if cmd.HasSubCommands() && !cmd.Runnable() {
		cmd.Args = cobra.ArbitraryArgs
		// `stile resources aply -f x` is about the subcommand, not -f.
		cmd.FParseErrWhitelist.UnknownFlags = true
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return unknownCommand(c, args[0])
		}
		return
	}
	if validate := cmd.Args; validate != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := validate(c, args); err != nil {
				return strayArgs(c, validate, args, err)
			}
			return nil
		}
	}
}

func unknownCommand(c *cobra.Command, name string) error {
	e := usageError{msg: fmt.Sprintf("unknown command %q for %q", name, c.CommandPath())}
	if s := c.SuggestionsFor(name); len(s) > 0 {
		e.try = c.CommandPath() + " " + s[0]
		for _, other := range s[1:] {
			e.try += " or " + c.CommandPath() + " " + other
		}
	} else {
		e.try = c.CommandPath() + " --help"
	}
	return e
}

// strayArgs turns a failed argument check into a message that names what
// was not expected, and says why when it is clear: a list flag given
// space-separated values, or a sid given without --sid.
func strayArgs(c *cobra.Command, validate cobra.PositionalArgs, args []string, err error) error {
	want := strings.Fields(c.Use)[1:]
	e := usageError{msg: fmt.Sprintf("%s: %v", c.CommandPath(), err), try: c.CommandPath() + " --help"}
	if len(want) > 0 {
		e.try = "stile " + strings.TrimPrefix(c.CommandPath(), "stile ") + " " + strings.Join(want, " ")
	}
	// The extra arguments are those past the longest prefix the command
	// accepts.
	var extra []string
	for n := len(args) - 1; n >= 0; n-- {
		if validate(c, args[:n]) == nil {
			extra = args[n:]
			break
		}
	}
	if len(extra) > 0 {
		e.msg = fmt.Sprintf("unexpected argument %q for %q", extra[0], c.CommandPath())
	}
	c.Flags().Visit(func(f *pflag.Flag) {
		if f.Value.Type() == "stringArray" && len(extra) > 0 {
			e.try = fmt.Sprintf("values of --%s are comma-separated (--%s a,b) or the flag repeated", f.Name, f.Name)
		}
	})
	if len(extra) > 0 && uuidLike.MatchString(extra[0]) && c.Flags().Lookup("sid") != nil {
		e.try = fmt.Sprintf("pass a session id with --sid: %s NAME --sid %s", c.CommandPath(), extra[0])
	}
	return e
}

var uuidLike = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

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

// hintFor says what to try after err, chosen by what the error is (its
// code, or a refused connection), never by its text.
func hintFor(err error) string {
	code := errs.CodeOf(err)
	if ae, ok := errors.AsType[*apiError](err); ok {
		code = ae.Code
	}
	if ue, ok := errors.AsType[usageError](err); ok {
		return ue.try
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
