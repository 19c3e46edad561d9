package sqlite

import (
	"context"
	"path/filepath"
	"strings"
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

func TestChain(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) storetest.Tamperable {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return storetest.Tamperable{Store: db, Exec: func(t *testing.T, q string) {
			t.Helper()
			if _, err := db.db.Exec(strings.NewReplacer("{", "", "}", "").Replace(q)); err != nil {
				t.Fatal(err)
			}
		}}
	})
}

// TestChainStarts: sessions that finished before the store had a chain are
// chained once, in the order they finished, when it first opens after the
// migration; a session put in by hand later is not.
func TestChainStarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stile.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	insert := func(sid, finished string) {
		t.Helper()
		if _, err := db.db.Exec(`INSERT INTO sessions (sid, kind, resource, actor, created_at, finished_at, status, input, output) VALUES (?, 'plan', 'a', 'admin', '2026-01-01T00:00:00.000000000Z', ?, 'in-sync', '', '')`, sid, finished); err != nil {
			t.Fatal(err)
		}
	}
	// As before migration 012: two finished sessions, no chain yet.
	insert("old2", "2026-01-01T00:00:02.000000000Z")
	insert("old1", "2026-01-01T00:00:01.000000000Z")
	if _, err := db.db.Exec("UPDATE chain SET started_at = ''"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	rep, err := db.VerifyChain(ctx)
	if err != nil || !rep.OK || rep.Sessions != 2 {
		t.Fatalf("verify = %+v, %v; want the two old sessions chained", rep, err)
	}
	if s, _ := db.Session(ctx, "old1"); s.ChainSeq != 1 {
		t.Errorf("old1 is %d in the chain, want 1 (it finished first)", s.ChainSeq)
	}
	insert("forged", "2026-01-01T00:00:03.000000000Z")
	db.Close()
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if rep, err := db.VerifyChain(ctx); err != nil || rep.OK || rep.SID != "forged" {
		t.Fatalf("verify = %+v, %v; want the forged session named", rep, err)
	}
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

// TestDeclarationMigration: migration 010 gives a store that predates it
// each role's declaration from its last applied plan (not its latest plan),
// and leaves a role never applied as it was.
func TestDeclarationMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "stile.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO resources (name, type, host, port, database, sslmode, agent, created_at, updated_at) VALUES ('a', 'postgres', 'h', 5432, 'postgres', 'prefer', 'local', 'x', 'x')`,
		// Applied with SELECT, then an exploratory plan (INSERT) overwrote the spec.
		`INSERT INTO roles (resource, label, role_name, spec, last_plan_sid, last_apply_sid, status, created_at, updated_at)
		 VALUES ('a', 'ro', 'stile_a_ro', '{"resource_name":"a","role":"ro","privileges":["INSERT"]}', 'p2', 'ap1', 'out-of-sync', 'x', 'x')`,
		`INSERT INTO sessions (sid, kind, resource, role, label, actor, created_at, status, input) VALUES
		 ('p1', 'plan', 'a', 'stile_a_ro', 'ro', 'admin', '2026-01-01T00:00:00.000000000Z', 'out-of-sync', '{"resource_name":"a","role":"ro","privileges":["SELECT"]}'),
		 ('p2', 'plan', 'a', 'stile_a_ro', 'ro', 'admin', '2026-01-03T00:00:00.000000000Z', 'out-of-sync', '{"resource_name":"a","role":"ro","privileges":["INSERT"]}')`,
		`INSERT INTO sessions (sid, kind, resource, role, label, actor, created_at, status, plan_sid) VALUES
		 ('ap1', 'apply', 'a', 'stile_a_ro', 'ro', 'admin', '2026-01-02T00:00:00.000000000Z', 'applied', 'p1')`,
		// Never applied.
		`INSERT INTO roles (resource, label, role_name, spec, last_plan_sid, status, created_at, updated_at)
		 VALUES ('a', 'new', 'stile_a_new', '{"resource_name":"a","role":"new","privileges":["UPDATE"]}', 'p3', 'out-of-sync', 'x', 'x')`,
		// As before migration 010.
		`ALTER TABLE roles DROP COLUMN declared`,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		if _, err := db.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	if db, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for label, want := range map[string]struct {
		privilege string
		declared  bool
	}{"ro": {"SELECT", true}, "new": {"UPDATE", false}} {
		r, err := db.Role(ctx, "a", label)
		if err != nil {
			t.Fatal(err)
		}
		if r.Declared != want.declared || len(r.Spec.Privileges) != 1 || r.Spec.Privileges[0] != want.privilege {
			t.Errorf("%s after migration: declared %v, privileges %v; want %v, [%s]", label, r.Declared, r.Spec.Privileges, want.declared, want.privilege)
		}
	}
}
