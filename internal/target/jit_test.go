package target_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestAdminConnectionsRunNoJIT: stile's connections to a target start with
// jit off, whatever the server's default: its catalog reads are costly
// enough for PostgreSQL to compile them, which took longer than the reads.
func TestAdminConnectionsRunNoJIT(t *testing.T) {
	for _, c := range pgtest.Clusters(t) {
		ctx := context.Background()
		cfg, err := c.Target().Config("postgres")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var jit string
		err = conn.QueryRow(ctx, "SHOW jit").Scan(&jit)
		conn.Close(ctx)
		if err != nil || jit != "off" {
			t.Errorf("PostgreSQL %s: jit %q, %v; want off", c.Version, jit, err)
		}
	}
}
