package daemon

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestRestoreEveryLevel restores, with stile restore, a backup of each
// store an earlier migration level's code wrote (the upgrade fixtures of
// internal/store/sqlite, whose TestUpgradeFromEveryLevel checks their
// schema, rows and chain): restore migrates it, verifies its audit chain
// and opens every lasting secret with the data key the old server made,
// and it must count every sealed value the store holds.
func TestRestoreEveryLevel(t *testing.T) {
	ctx := context.Background()
	levels, err := filepath.Glob("../store/sqlite/testdata/upgrade/[0-9][0-9][0-9]")
	if err != nil || len(levels) == 0 {
		t.Fatalf("no upgrade fixtures (%v)", err)
	}
	for _, dir := range levels {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tmp, data := t.TempDir(), t.TempDir()
			keyFile := filepath.Join(dir, "secret.key")
			key, err := secret.LoadKey(keyFile, "")
			if err != nil {
				t.Fatal(err)
			}
			// A copy: SQLite opens the fixture to read it, and would leave
			// -wal and -shm files beside it.
			store, backup := filepath.Join(tmp, "stile.db"), filepath.Join(tmp, "backup.db")
			if err := copyFile(filepath.Join(dir, "stile.db"), store); err != nil {
				t.Fatal(err)
			}
			if err := sqlite.Backup(ctx, store, backup, map[string]string{metaBackupKeyID: secret.KeyID(key)}); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := newRestoreCmd(&env{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }})
			cmd.SetArgs([]string{backup, "--data", data, "--key-file", keyFile})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			if err := cmd.ExecuteContext(ctx); err != nil {
				t.Fatalf("restore: %v\n%s", err, stderr.String())
			}
			m := regexp.MustCompile(`(\d+) secrets open`).FindStringSubmatch(stdout.String())
			if m == nil {
				t.Fatalf("restore said: %s", stdout.String())
			}
			if want := sealed(t, filepath.Join(data, "stile.db")); m[1] != strconv.Itoa(want) || want < 3 {
				t.Errorf("restore opened %s secrets of the %d in the store (an admin account and two roles' passwords at least): %s", m[1], want, stdout.String())
			}
		})
	}
}

// sealed counts the sealed values in the store at path: admin accounts,
// roles' current and pending passwords, the masking key.
func sealed(t *testing.T, path string) int {
	t.Helper()
	ctx := context.Background()
	meta, err := sqlite.ReadMeta(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	resources, err := st.Resources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roles, err := st.Roles(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	n := nonEmpty(meta["mask_key"])
	for _, r := range resources {
		n += nonEmpty(r.AdminSecret)
	}
	for _, r := range roles {
		n += nonEmpty(r.PasswordCurrent) + nonEmpty(r.PasswordPending)
	}
	return n
}

func nonEmpty(s string) int {
	if s == "" {
		return 0
	}
	return 1
}
