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
// which took longer than the read) and leaves the connection's setting as
// it was: inside a transaction jit is off until it ends, on a bare
// connection it is back at once.
func TestReadRunsWithoutJIT(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		ctx := context.Background()
		conn := c.Conn(t, "postgres")
		jit := func() string {
			t.Helper()
			var v string
			if err := conn.QueryRow(ctx, "SHOW jit").Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		if _, err := conn.Exec(ctx, "SET jit = on"); err != nil {
			t.Fatal(err)
		}
		d := &catalog.Database{Name: "postgres"}
		if err := inspect.ReadDatabase(ctx, conn, d, inspect.Request{}); err != nil {
			t.Fatal(err)
		}
		if got := jit(); got != "on" {
			t.Errorf("after a read on a bare connection, jit = %s, want on (the read's setting stays with its batch)", got)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := inspect.ReadDatabase(ctx, tx, d, inspect.Request{}); err != nil {
			t.Fatal(err)
		}
		if got := jit(); got != "off" {
			t.Errorf("within the read's transaction, jit = %s, want off", got)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := jit(); got != "on" {
			t.Errorf("after the read's transaction, jit = %s, want on", got)
		}
	})
}
