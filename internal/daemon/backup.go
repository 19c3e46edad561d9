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
	"golang.org/x/term"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/local"
	"github.com/stile-dev/stile/internal/secret"
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
		Use:   "backup FILE|- [--data DIR]",
		Short: "Copy the embedded store, consistent, while the server runs",
		Long: `Write a consistent copy of the embedded SQLite store (<data>/stile.db) to FILE, which must not
exist, while plans, applies and connections go on: the copy is one snapshot of the store
(SQLite's VACUUM INTO), so its audit chain verifies and no transaction is half in it. It
records the id of the data key (never the key) that its secrets are sealed with: back the key
up apart from it (<data>/secret.key, or STILE_SECRET_KEY), and restore with stile restore.

With - it writes the copy to standard output (never a terminal), and what it did to standard
error: from a container that has no shell or tar, kubectl exec … stile backup - > FILE.

A PostgreSQL store is backed up with pg_dump (docs/deployment.md).`,
		Example: `  stile backup /var/backups/stile-$(date +%F).db --data /var/lib/stile
  kubectl exec deploy/stile -- stile backup - --data /var/lib/stile --key-file /etc/stile/key/secret.key > stile.db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data = dataDir(e, cmd, data)
			key, err := secret.LoadKey(cmp.Or(keyFile, filepath.Join(data, "secret.key")), e.getenv("STILE_SECRET_KEY"))
			if err != nil {
				return errs.Invalidf("%v: a backup records the id of the data key its secrets are sealed with", err)
			}
			dst, report := args[0], e.stdout
			if dst == "-" {
				if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return errs.Invalidf("backup - writes the store to standard output, which is a terminal: redirect it to a file")
				}
				tmp, err := os.MkdirTemp("", "stile-backup-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dst, report = filepath.Join(tmp, "stile.db"), e.stderr
			}
			start := time.Now()
			meta := map[string]string{metaBackupKeyID: secret.KeyID(key), metaBackupAt: start.UTC().Format(time.RFC3339), metaBackupOf: filepath.Join(data, "stile.db"), metaBackupBy: version.String()}
			if err := sqlite.Backup(cmd.Context(), filepath.Join(data, "stile.db"), dst, meta); err != nil {
				return err
			}
			fi, err := os.Stat(dst)
			if err != nil {
				return err
			}
			if args[0] == "-" {
				if err := copyTo(e.stdout, dst); err != nil {
					return fmt.Errorf("write the backup to standard output: %w", err)
				}
			}
			fmt.Fprintf(report, "backed up %s to %s (%d bytes, %.1fs); its secrets need data key %s\n", meta[metaBackupOf], args[0], fi.Size(), time.Since(start).Seconds(), meta[metaBackupKeyID])
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the server's data directory (env STILE_DATA; default $XDG_DATA_HOME/stile)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the server's data key file (default <data>/secret.key)")
	return cmd
}

// saveStdin writes r, a backup streamed on standard input, to a file in
// dir and returns its path; a terminal is refused.
func saveStdin(r io.Reader, dir string) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return "", errs.Invalidf("restore - reads the backup from standard input, which is a terminal: redirect a file to it")
	}
	path := filepath.Join(dir, "backup.db")
	if err := writeNew(path, r); err != nil {
		return "", fmt.Errorf("read the backup from standard input: %w", err)
	}
	return path, nil
}

// copyTo writes the file at path to w.
func copyTo(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func newRestoreCmd(e *env) *cobra.Command {
	var (
		data, keyFile, storeURL string
		force                   bool
	)
	cmd := &cobra.Command{
		Use:   "restore FILE|- [--data DIR] [--force] | restore --store postgres://…",
		Short: "Restore a backup into a data directory, or check a restored PostgreSQL store",
		Long: `Restore a backup made by stile backup into <data>/stile.db, with the server stopped. First, on a
copy, and changing nothing in <data> until all of it holds: the backup's data key id must be the
id of the key in <data>/secret.key (or STILE_SECRET_KEY); the store is migrated to this
version; its audit chain must verify (as stile sessions verify does); and every lasting secret
(admin credentials, resource roles' passwords, the masking key) must open with the key. A store
already in <data> is kept as stile.db.replaced-<time> with --force, and refused without it.
With - it reads the backup from standard input (never a terminal).

With --store (or STILE_STORE) and no FILE, it checks a PostgreSQL store that pg_restore filled
(docs/deployment.md), with the replicas stopped, the same way: the data key id the store
recorded must be the key's (checked before anything changes), then it is migrated, its audit
chain must verify and its secrets must open.`,
		Example: `  stile restore /var/backups/stile-2026-12-06.db --data /var/lib/stile
  STILE_STORE=postgres://stile:…@db/stile stile restore --key-file /etc/stile/secret.key`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if cmd.Flags().Changed("store") {
					return errs.Invalidf("give a backup FILE to restore, or --store to check a PostgreSQL store, not both")
				}
				file := args[0]
				if file == "-" {
					tmp, err := os.MkdirTemp("", "stile-restore-")
					if err != nil {
						return err
					}
					defer os.RemoveAll(tmp)
					if file, err = saveStdin(cmd.InOrStdin(), tmp); err != nil {
						return err
					}
				}
				return restore(cmd, e, file, dataDir(e, cmd, data), keyFile, force)
			}
			if err := noPassword("--store", storeURL); err != nil {
				return err
			}
			url := cmp.Or(storeURL, e.getenv("STILE_STORE"))
			if url == "" {
				return errs.Invalidf("give a backup FILE to restore, or the PostgreSQL store to check (--store or STILE_STORE)")
			}
			key, err := secret.LoadKey(cmp.Or(keyFile, filepath.Join(dataDir(e, cmd, data), "secret.key")), e.getenv("STILE_SECRET_KEY"))
			if err != nil {
				return errs.Invalidf("%v: check the store with the data key its secrets are sealed with", err)
			}
			return checkRestoredStore(cmd, e, url, key)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the data directory to restore into (env STILE_DATA; default $XDG_DATA_HOME/stile)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "the data key file the server will run with (default <data>/secret.key)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the store already in the data directory (it is kept aside)")
	cmd.Flags().StringVar(&storeURL, "store", "", "check this PostgreSQL store, restored with pg_restore, instead (env STILE_STORE; a password in PGPASSWORD or ~/.pgpass, not here)")
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
	st, err := sqlite.Open(ctx, tmp) // migrates an older backup
	if err != nil {
		return fmt.Errorf("open the backup: %w", err)
	}
	v, err := verifyStore(ctx, st, key)
	if err == nil {
		// The restored store records the key it is sealed with, as a
		// server's first start would (checkDataKey).
		var recorded string
		if recorded, err = st.SetMetaOnce(ctx, metaDataKeyID, want); err == nil && recorded != want {
			err = errs.Invalidf("its store recorded data key %s, not the backup's %s", recorded, want)
		}
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("the backup: %w; nothing changed", err)
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
		file, meta[metaBackupAt], dst, v.resources, v.roles, v.sessions, v.secrets, want)
	return nil
}

// copyFile copies src to a new file dst, mode 0600.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := writeNew(dst, in); err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return nil
}

// writeNew writes what r holds to a new file dst, mode 0600; it fails if
// dst exists.
func writeNew(dst string, r io.Reader) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
