package daemon

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/postgres"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// openStore opens a store named "sqlite:PATH" or "postgres://…"; empty
// means the SQLite file in the data dir.
func openStore(ctx context.Context, name, data string) (store.Store, error) {
	switch {
	case name == "":
		return sqlite.Open(ctx, filepath.Join(data, "stile.db"))
	case strings.HasPrefix(name, "sqlite:"):
		return sqlite.Open(ctx, strings.TrimPrefix(name, "sqlite:"))
	case strings.HasPrefix(name, "postgres://"), strings.HasPrefix(name, "postgresql://"):
		return postgres.Open(ctx, name)
	}
	return nil, errs.Invalidf("store %q is neither sqlite:PATH nor a postgres:// URL", redactURL(name))
}

// noPassword refuses a store URL that carries a password on the command
// line, where every process list shows it.
func noPassword(flag, name string) error {
	u, err := url.Parse(name)
	if err != nil || u.User == nil {
		return nil
	}
	if _, set := u.User.Password(); set {
		return errs.Invalidf("%s holds a password, which process lists show: put the URL in STILE_STORE, or the password in PGPASSWORD or ~/.pgpass", flag)
	}
	return nil
}

// redactURL hides a password in a store URL before it is printed.
func redactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	cred := s[scheme+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return s[:scheme+3] + cred[:i] + ":***" + s[at:]
	}
	return s
}

func newMigrateStoreCmd(e *env) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "migrate-store --from sqlite:PATH [--to postgres://…]",
		Short: "Copy an embedded store into a PostgreSQL store",
		Long: `Copy everything (inventory, sealed admin credentials, roles with their sealed passwords, every
session) from one store into an empty one, in one transaction. Secrets stay encrypted: run the
new servers with the same data key (secret.key or STILE_SECRET_KEY). Stop the server first.
--to defaults to STILE_STORE; a URL with a password belongs there (or the password in
PGPASSWORD or ~/.pgpass), not on the command line.`,
		Example: `  stile migrate-store --from sqlite:$HOME/.local/share/stile/stile.db --to postgres://stile@db/stile`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := noPassword("--from", from); err != nil {
				return err
			}
			if err := noPassword("--to", to); err != nil {
				return err
			}
			if to == "" {
				to = e.getenv("STILE_STORE")
			}
			if from == "" || to == "" {
				return errs.Invalidf("--from and --to (or STILE_STORE) are required")
			}
			ctx := cmd.Context()
			src, err := openStore(ctx, from, "")
			if err != nil {
				return fmt.Errorf("open source: %w", err)
			}
			defer src.Close()
			dst, err := openStore(ctx, to, "")
			if err != nil {
				return fmt.Errorf("open destination: %w", err)
			}
			defer dst.Close()
			sd, ok1 := src.(store.Dumper)
			dd, ok2 := dst.(store.Dumper)
			if !ok1 || !ok2 {
				return errs.Invalidf("these stores cannot be copied")
			}
			d, err := sd.Dump(ctx)
			if err != nil {
				return fmt.Errorf("read source: %w", err)
			}
			if err := dd.Load(ctx, d); err != nil {
				return fmt.Errorf("write destination: %w", err)
			}
			fmt.Fprintf(e.stdout, "copied %d resources, %d roles and %d sessions to %s\n", len(d.Resources), len(d.Roles), len(d.Sessions), redactURL(to))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "source store: sqlite:PATH or postgres://…")
	cmd.Flags().StringVar(&to, "to", "", "destination store: postgres://… or sqlite:PATH (must be empty)")
	return cmd
}
