package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUpgradeFromEveryLevel opens, with today's code, a store written by
// each earlier migration level's own code (testdata/upgrade/NNN, made by
// scripts/store-fixtures.sh; README.txt there). Open migrates it; then it
// must be at the latest level, its schema must be a fresh store's, every
// row it held must still be there, and its audit chain must verify over
// every finished session. internal/daemon's TestRestoreEveryLevel opens
// the same stores' secrets with their keys.
func TestUpgradeFromEveryLevel(t *testing.T) {
	ctx := context.Background()
	fresh, err := Open(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	wantSchema, wantVersions := schema(t, fresh.db), column[int](t, fresh.db, "SELECT version FROM schema_migrations ORDER BY version")
	levels, err := filepath.Glob("testdata/upgrade/[0-9][0-9][0-9]")
	if err != nil || len(levels) == 0 {
		t.Fatalf("no fixtures in testdata/upgrade (%v)", err)
	}
	// A level's fixture is made once the level is a commit: by the time
	// a migration is added, the level before it must have one.
	if newest, latest := levels[len(levels)-1], wantVersions[len(wantVersions)-1]; filepath.Base(newest) < fmt.Sprintf("%03d", latest-1) {
		t.Errorf("the newest fixture is %s and the latest migration %03d: make the fixture of level %03d (scripts/store-fixtures.sh %03d)", newest, latest, latest-1, latest-1)
	}
	for _, dir := range levels {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "stile.db")
			data, err := os.ReadFile(filepath.Join(dir, "stile.db"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			before, finished, level := snapshot(t, path)
			if level == wantVersions[len(wantVersions)-1] {
				t.Logf("the fixture is at the latest level, %d: nothing to migrate", level)
			}
			st, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("open a store of level %d: %v", level, err)
			}
			defer st.Close()
			if got := column[int](t, st.db, "SELECT version FROM schema_migrations ORDER BY version"); !cmp.Equal(got, wantVersions) {
				t.Errorf("migrated from %d to versions %v, want %v", level, got, wantVersions)
			}
			if diff := cmp.Diff(wantSchema, schema(t, st.db)); diff != "" {
				t.Errorf("the schema migrated from %d is not a fresh store's (-fresh +migrated):\n%s", level, diff)
			}
			for _, table := range slices.Sorted(maps.Keys(before)) {
				n := before[table]
				if table == "schema_migrations" {
					continue // compared above
				}
				if got := count(t, st.db, table); got != n {
					t.Errorf("table %s held %d rows at level %d and %d migrated", table, n, level, got)
				}
			}
			for _, table := range []string{"resources", "roles", "sessions", "users", "access"} {
				if before[table] == 0 {
					t.Errorf("the fixture of level %d has no %s: make it again (scripts/store-fixtures.sh)", level, table)
				}
			}
			rep, err := st.VerifyChain(ctx)
			if err != nil || !rep.OK || rep.Sessions != int64(finished) {
				t.Errorf("audit chain: %+v, %v; want it to verify over the %d finished sessions", rep, err, finished)
			}
			// 010 marked the roles applied before it declared (their spec
			// the applied plan's input).
			if n := count(t, st.db, "roles WHERE last_apply_sid <> '' AND NOT declared"); n != 0 {
				t.Errorf("%d applied roles are not declared after the migration from %d", n, level)
			}
		})
	}
}

// snapshot reads a store file without migrating it: the rows of each
// table, how many sessions have finished, and its highest migration.
func snapshot(t *testing.T, path string) (rows map[string]int, finished, level int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows = map[string]int{}
	for _, table := range column[string](t, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
		rows[table] = count(t, db, table)
	}
	return rows, count(t, db, "sessions WHERE status <> 'running'"), column[int](t, db, "SELECT max(version) FROM schema_migrations")[0]
}

// schema is every table's and index's SQL as SQLite keeps it (an ALTER
// TABLE ADD COLUMN appends to its table's), whitespace collapsed, keyed by
// type and name. Text, not PRAGMA table_info: it holds defaults, NOT NULL,
// keys, references, CHECKs and partial indexes' WHERE alike.
func schema(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query("SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var typ, name, text string
		if err := rows.Scan(&typ, &name, &text); err != nil {
			t.Fatal(err)
		}
		out[typ+" "+name] = strings.Join(strings.Fields(text), " ")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// count is SELECT count(*) FROM from.
func count(t *testing.T, db *sql.DB, from string) int {
	t.Helper()
	return column[int](t, db, "SELECT count(*) FROM "+from)[0]
}

// column runs q and returns its one column.
func column[T any](t *testing.T, db *sql.DB, q string) []T {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
