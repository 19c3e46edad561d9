package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stile.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpsertResources(ctx, []spec.Resource{{Name: "a", Type: "postgres", Host: "h", Port: 1, Database: "postgres", SSLMode: "prefer"}}, "local"); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen (migrations must be idempotent): %v", err)
	}
	defer db.Close()
	if _, err := db.Resource(ctx, "a"); err != nil {
		t.Fatalf("resource lost across reopen: %v", err)
	}
}
