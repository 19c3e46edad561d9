// Command stile owns PostgreSQL access roles across a fleet of databases.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stile-dev/stile/internal/cli"
	"github.com/stile-dev/stile/internal/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Commands)
	stop()
	os.Exit(code)
}
