//go:build unix

package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stile-dev/stile/internal/spec"
)

// TestFileMode: the store file and its -wal and -shm files are 0600 even
// under a umask of 0 in a world-writable directory, and files an older
// stile left readable are tightened on open.
func TestFileMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()

	check := func(t *testing.T, dir string) {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "stile.db") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			seen[e.Name()] = true
			if m := info.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %#o, want 0600", e.Name(), m)
			}
		}
		for _, name := range []string{"stile.db", "stile.db-wal", "stile.db-shm"} {
			if !seen[name] {
				t.Errorf("%s is missing; files: %v", name, seen)
			}
		}
	}
	write := func(t *testing.T, path string) *DB {
		t.Helper()
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.UpsertResources(ctx, []spec.Resource{{Name: "a", Type: "postgres", Host: "h", Port: 1, Database: "postgres", SSLMode: "prefer"}}, "local"); err != nil {
			t.Fatal(err)
		}
		return db
	}

	t.Run("new", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, "stile.db"))
		check(t, dir)
	})

	t.Run("existing", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "stile.db")
		db := write(t, path)
		db.Close()
		// As an older stile left them: whichever exist, readable by all.
		for _, name := range []string{"stile.db", "stile.db-wal", "stile.db-shm"} {
			if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		db = write(t, path)
		check(t, dir)
		if _, err := db.Resource(ctx, "a"); err != nil {
			t.Fatalf("resource lost across reopen: %v", err)
		}
	})
}
