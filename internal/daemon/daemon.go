// Package daemon wires and runs stile's server side, by hand and in one
// place (WTF Dial's Main): `stile server` builds the store, the secret box,
// the agents' hub, the service, the HTTP server and the PostgreSQL listener
// and runs them; `stile migrate-store` copies one store into another. The
// command line (internal/cli) gets these commands from the program
// (cmd/stile) and never imports the server's insides; daemon never imports
// the command line.
package daemon

import (
	"io"

	"github.com/spf13/cobra"
)

// env is the process environment the commands see.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// Commands returns the server-side commands, `stile server`, `stile
// migrate-store`, `stile backup` and `stile restore`, writing to stdout and stderr and reading the environment
// with getenv (os.Getenv, or a test's). Their errors are errs values the
// command line prints as it prints its own.
func Commands(stdout, stderr io.Writer, getenv func(string) string) []*cobra.Command {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	return []*cobra.Command{newServerCmd(e), newMigrateStoreCmd(e), newBackupCmd(e), newRestoreCmd(e)}
}
