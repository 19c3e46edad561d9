package inspect_test

import (
	"context"
	"testing"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestReadRunsWithoutJIT: a database's read turns JIT off for its own
// statements (a catalog read is costly enough for PostgreSQL to compile,
// which took longer than the read), plans each of them for its arguments
// every time (plan_cache_mode force_custom_plan: on a warm connection,
// after five runs PostgreSQL switched the schema read to a generic plan,
// blind to the number of target roles, and it went from 16 to 550 ms), and
// leaves the connection's settings as they were: inside a transaction they
// hold until it ends, on a bare connection they are back at once.
func TestReadRunsWithoutJIT(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		ctx := context.Background()
		conn := c.Conn(t, "postgres")
		jit := func() string {
			t.Helper()
			var v, mode string
			if err := conn.QueryRow(ctx, "SELECT current_setting('jit'), current_setting('plan_cache_mode')").Scan(&v, &mode); err != nil {
				t.Fatal(err)
			}
			// The two settings go together: report them as one.
			switch {
			case v == "off" && mode == "force_custom_plan":
				return "off"
			case v == "on" && mode == "auto":
				return "on"
			}
			return "jit " + v + ", plan_cache_mode " + mode
		}
		if _, err := conn.Exec(ctx, "SET jit = on"); err != nil {
			t.Fatal(err)
		}
		// Every catalog read: the cluster's, a database's, the schema
		// list's.
		reads := map[string]func(inspect.Querier) error{
			"cluster": func(q inspect.Querier) error { _, err := inspect.ReadCluster(ctx, q, nil); return err },
			"database": func(q inspect.Querier) error {
				return inspect.ReadDatabase(ctx, q, &catalog.Snapshot{}, &catalog.Database{Name: "postgres"}, inspect.Request{})
			},
			"schemas": func(q inspect.Querier) error { return inspect.ReadSchemas(ctx, q, &catalog.Database{Name: "postgres"}) },
		}
		for name, read := range reads {
			if err := read(conn); err != nil {
				t.Fatal(err)
			}
			if got := jit(); got != "on" {
				t.Errorf("after the %s read on a bare connection, jit = %s, want on (the read's setting stays with its batch)", name, got)
			}
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := read(tx); err != nil {
				t.Fatal(err)
			}
			if got := jit(); got != "off" {
				t.Errorf("within the %s read's transaction, jit = %s, want off", name, got)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if got := jit(); got != "on" {
				t.Errorf("after the %s read's transaction, jit = %s, want on", name, got)
			}
		}
	})
}
