package cli

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestRestorePostgresEveryLevel is the PostgreSQL store's upgrade test. Each
// fixture in internal/store/postgres/testdata/upgrade is a pg_dump of a store
// that an earlier migration level's own code wrote
// (scripts/store-fixtures-postgres.sh). Loaded into an empty database, it is
// checked by stile restore --store with the level's data key (the SQLite
// fixture's secret.key): the store is migrated, its audit chain verifies and
// every secret opens. Then the migrated schema must be a fresh store's
// (columns, indexes, constraints), and every table must hold the rows it held.
func TestRestorePostgresEveryLevel(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	fixtures, err := filepath.Glob("../store/postgres/testdata/upgrade/[0-9][0-9][0-9].sql.gz")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no PostgreSQL upgrade fixtures (%v)", err)
	}

	// A fresh store: a server's start on an empty database migrates it.
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_fresh")
	h := startServerWith(t, t.TempDir(), map[string]string{"STILE_STORE": databaseURL(t, c, p+"_fresh")})
	h.stop()
	h.stop = nil
	fresh := c.Conn(t, p+"_fresh")
	wantSchema, wantVersions := pgSchema(t, fresh), pgColumn[int](t, fresh, "SELECT version FROM stile_schema_migrations ORDER BY version")
	newest := strings.TrimSuffix(filepath.Base(fixtures[len(fixtures)-1]), ".sql.gz")
	if latest := wantVersions[len(wantVersions)-1]; newest < fmt.Sprintf("%03d", latest-1) {
		t.Errorf("the newest fixture is %s and the latest migration %03d: make the fixtures again (scripts/store-fixtures.sh, then scripts/store-fixtures-postgres.sh)", newest, latest)
	}

	for _, fixture := range fixtures {
		level := strings.TrimSuffix(filepath.Base(fixture), ".sql.gz")
		t.Run(level, func(t *testing.T) {
			db := p + "_l" + level
			c.Exec(t, "postgres", "CREATE DATABASE "+db)
			loadDump(t, c, db, fixture)
			conn := c.Conn(t, db)
			before := pgRowCounts(t, conn)
			hadKeyID := pgColumn[bool](t, conn, "SELECT EXISTS (SELECT FROM stile_meta WHERE key = 'data_key_id')")[0]
			from := pgColumn[int](t, conn, "SELECT max(version) FROM stile_schema_migrations")[0]
			if fmt.Sprintf("%03d", from) != level {
				t.Fatalf("the fixture of level %s is at migration %d", level, from)
			}

			r := &harness{t: t, dir: t.TempDir(), vars: map[string]string{"STILE_STORE": databaseURL(t, c, db)}}
			out := r.ok("", "restore", "--key-file", filepath.Join("../store/sqlite/testdata/upgrade", level, "secret.key"))
			m := regexp.MustCompile(`audit chain verified \((\d+) sessions\); (\d+) secrets open`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("restore --store said: %s", out)
			}
			if n, _ := strconv.Atoi(m[2]); n < 3 {
				t.Errorf("restore opened %d secrets (an admin account and two roles' passwords at least): %s", n, out)
			}

			if got := pgColumn[int](t, conn, "SELECT version FROM stile_schema_migrations ORDER BY version"); !cmp.Equal(got, wantVersions) {
				t.Errorf("migrated from %s to versions %v, want %v", level, got, wantVersions)
			}
			if diff := cmp.Diff(wantSchema, pgSchema(t, conn)); diff != "" {
				t.Errorf("the schema migrated from %s is not a fresh store's (-fresh +migrated):\n%s", level, diff)
			}
			after := pgRowCounts(t, conn)
			for _, table := range slices.Sorted(maps.Keys(before)) {
				want := before[table]
				switch table {
				case "stile_schema_migrations":
					continue // compared above
				case "stile_meta":
					if !hadKeyID {
						want++ // restore --store records the data key's id
					}
				}
				if got := after[table]; got != want {
					t.Errorf("table %s held %d rows at level %s and %d migrated (want %d)", table, before[table], level, got, want)
				}
			}
			for _, table := range []string{"stile_resources", "stile_roles", "stile_sessions", "stile_users", "stile_access"} {
				if before[table] == 0 {
					t.Errorf("the fixture of level %s has no rows in %s: make it again", level, table)
				}
			}
		})
	}
}

// databaseURL is the cluster's superuser URL for another database.
func databaseURL(t *testing.T, c pgtest.Cluster, db string) string {
	t.Helper()
	u, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// loadDump runs the gunzipped plain-SQL dump at path in database db, over
// the simple protocol (several statements, no arguments). The dump sets
// an empty search_path for its session, so the connection is its own, closed.
func loadDump(t *testing.T, c pgtest.Cluster, db, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	script, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	ctx := context.Background()
	conn, err := c.Target().Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, string(script)); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
}

// pgSchema describes the stile_ tables of the connection's database, a
// line per column (type, nullability, default), index and constraint.
func pgSchema(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	return pgColumn[string](t, conn, `
SELECT line FROM (
SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable, coalesce(column_default, '-'))
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name LIKE 'stile\_%'
UNION ALL
SELECT format('index %s.%s %s', tablename, indexname, indexdef)
FROM pg_indexes
WHERE schemaname = 'public' AND tablename LIKE 'stile\_%'
UNION ALL
SELECT format('constraint %s.%s %s', rel.relname, con.conname, pg_get_constraintdef(con.oid))
FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace
WHERE n.nspname = 'public' AND rel.relname LIKE 'stile\_%'
) s (line) ORDER BY line COLLATE "C"`)
}

// pgRowCounts counts the rows of every stile_ table.
func pgRowCounts(t *testing.T, conn *pgx.Conn) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range pgColumn[string](t, conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'stile\\_%'") {
		out[table] = pgColumn[int](t, conn, "SELECT count(*) FROM public."+pgx.Identifier{table}.Sanitize())[0]
	}
	return out
}

// pgColumn runs q and returns its one column.
func pgColumn[T any](t *testing.T, conn *pgx.Conn, q string) []T {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}
