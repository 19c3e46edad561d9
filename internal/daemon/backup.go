package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
	"github.com/stile-dev/stile/internal/version"
)

// Meta keys a backup writes into its copy of the store.
const (
	metaBackupKeyID = "backup_key_id"
	metaBackupAt    = "backup_taken_at"
	metaBackupOf    = "backup_of"
	metaBackupBy    = "backup_version"
)

func newBackupCmd(e *env) *cobra.Command {
	var data, keyFile string
	cmd := &cobra.Command{
		Use:   "backup FILE [--data DIR]",
		Short: "Copy the embedded store, consistent, while the server runs",
		Long: `Write a consistent copy of the embedded SQLite store (<data>/stile.db) to FILE, which must not
exist, while plans, applies and connections go on: the copy is one snapshot of the store
(SQLite's VACUUM INTO), so its audit chain verifies and no transaction is half in it. It
records the id of the data key (never the key) that its secrets are sealed with: back the key
up apart from it (<data>/secret.key, or STILE_SECRET_KEY), and restore with stile restore.

A PostgreSQL store is backed up with pg_dump (docs/deployment.md).`,
		Example: `  stile backup /var/backups/stile-$(date +%F).db --data /var/lib/stile`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data = dataDir(e, cmd, data)
			key, err := secret.LoadKey(cmp.Or(keyFile, filepath.Join(data, "secret.key")), e.getenv("STILE_SECRET_KEY"))
			if err != nil {
				return errs.Invalidf("%v: a backup records the id of the data key its secrets are sealed with", err)
			}
			start := time.Now()
			meta := map[string]string{metaBackupKeyID: secret.KeyID(key), metaBackupAt: start.UTC().Format(time.RFC3339), metaBackupOf: filepath.Join(data, "stile.db"), metaBackupBy: version.String()}
			if err := sqlite.Backup(cmd.Context(), filepath.Join(data, "stile.db"), args[0], meta); err != nil {
				return err
			}
			fi, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "backed up %s to %s (%d bytes, %.1fs); its secrets need data key %s\n", meta[metaBackupOf], args[0], fi.Size(), time.Since(start).Seconds(), meta[metaBackupKeyID])
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the server's data directory (env STILE_DATA; default $XDG_DATA_HOME/stile)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the server's data key file (default <data>/secret.key)")
	return cmd
}

func newRestoreCmd(e *env) *cobra.Command {
	var (
		data, keyFile string
		force         bool
	)
	cmd := &cobra.Command{
		Use:   "restore FILE [--data DIR] [--force]",
		Short: "Restore a backup into a data directory, after checking it",
		Long: `Restore a backup made by stile backup into <data>/stile.db, with the server stopped. First, on a
copy, and changing nothing in <data> until all of it holds: the backup's data key id must be the
id of the key in <data>/secret.key (or STILE_SECRET_KEY); the store is migrated to this
version; its audit chain must verify (as stile sessions verify does); and every lasting secret
(admin credentials, resource roles' passwords, the masking key) must open with the key. A store
already in <data> is kept as stile.db.replaced-<time> with --force, and refused without it.`,
		Example: `  stile restore /var/backups/stile-2026-12-06.db --data /var/lib/stile`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return restore(cmd, e, args[0], dataDir(e, cmd, data), keyFile, force)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the data directory to restore into (env STILE_DATA; default $XDG_DATA_HOME/stile)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the data key file the server will run with (default <data>/secret.key)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the store already in the data directory (it is kept aside)")
	return cmd
}

// dataDir is the --data flag when given, else STILE_DATA or the default.
func dataDir(e *env, cmd *cobra.Command, flag string) string {
	if cmd.Flags().Changed("data") {
		return flag
	}
	return local.DataDir(e.getenv)
}

// restore checks file on a copy in data, then puts the copy in place.
func restore(cmd *cobra.Command, e *env, file, data, keyFile string, force bool) error {
	ctx := cmd.Context()
	key, err := secret.LoadKey(cmp.Or(keyFile, filepath.Join(data, "secret.key")), e.getenv("STILE_SECRET_KEY"))
	if err != nil {
		return errs.Invalidf("%v: restore with the data key the backup was taken with", err)
	}
	meta, err := sqlite.ReadMeta(ctx, file)
	if err != nil {
		return err
	}
	want, ok := meta[metaBackupKeyID]
	switch {
	case !ok:
		return errs.Invalidf("%s is not a stile backup (no data key id): make one with stile backup", file)
	case want != secret.KeyID(key):
		return errs.Invalidf("%s was taken with data key %s, and this data key is %s: restore with the key it was taken with; nothing changed", file, want, secret.KeyID(key))
	}
	dst := filepath.Join(data, "stile.db")
	if _, err := os.Stat(dst); err == nil && !force {
		return errs.Invalidf("%s holds a store already: give --force to replace it (it is kept aside); nothing changed", data)
	}
	tmp := dst + ".restoring"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	if err := copyFile(file, tmp); err != nil {
		return err
	}
	placed := false
	defer func() {
		if !placed {
			for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
				os.Remove(p)
			}
		}
	}()
	box, err := secret.NewBox(key)
	if err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, tmp) // migrates an older backup
	if err != nil {
		return fmt.Errorf("open the backup: %w", err)
	}
	rep, err := st.VerifyChain(ctx)
	if err == nil && !rep.OK {
		err = errs.New(errs.Failed, "the backup's audit chain does not verify: %s; nothing changed", rep.Problem)
	}
	// The chain's walk is the one read of every session; the secrets
	// are in the resources, the roles and the meta read above.
	var resources []store.Resource
	var roles []store.Role
	secrets := 0
	if err == nil {
		resources, err = st.Resources(ctx)
	}
	if err == nil {
		roles, err = st.Roles(ctx, "")
	}
	if err == nil {
		if secrets, err = service.OpenSecrets(resources, roles, meta["mask_key"], box); err != nil {
			err = errs.New(errs.Failed, "the backup's secrets do not open with this data key (%v); nothing changed", err)
		}
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		aside := dst + ".replaced-" + strconv.FormatInt(time.Now().Unix(), 10)
		if err := os.Rename(dst, aside); err != nil {
			return fmt.Errorf("keep the old store aside: %w", err)
		}
		fmt.Fprintf(e.stderr, "the store that was in %s is kept as %s\n", data, aside)
	}
	for _, p := range []string{dst + "-wal", dst + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("put the restored store in place: %w", err)
	}
	placed = true
	fmt.Fprintf(e.stdout, "restored %s (taken %s) into %s: %d resources, %d roles; audit chain verified (%d sessions); %d secrets open with data key %s\n",
		file, meta[metaBackupAt], dst, len(resources), len(roles), rep.Sessions, secrets, want)
	return nil
}

// copyFile copies src to a new file dst, mode 0600.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}
