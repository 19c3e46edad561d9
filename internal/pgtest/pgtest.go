// Package pgtest gives tests the real PostgreSQL clusters that `make test`
// starts. STILE_TEST_PG_URLS holds space-separated VERSION=URL pairs of
// superuser URLs. Without it a test skips locally and fails in CI
// (CI=true), so a missing server never passes silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/sqlq"
	"github.com/stile-dev/stile/internal/target"
)

// Cluster is one running test server.
type Cluster struct {
	Version string
	URL     string
	cfg     *pgx.ConnConfig
}

// Clusters returns every configured cluster, sorted by version. It skips
// the test when none is configured, or fails it when CI is set.
func Clusters(t testing.TB) []Cluster {
	t.Helper()
	raw := strings.TrimSpace(os.Getenv("STILE_TEST_PG_URLS"))
	if raw == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("STILE_TEST_PG_URLS is not set: CI must run the PostgreSQL tests (use make test)")
		}
		t.Skip("STILE_TEST_PG_URLS is not set; run make test")
	}
	var out []Cluster
	for _, pair := range strings.Fields(raw) {
		v, u, ok := strings.Cut(pair, "=")
		if !ok {
			t.Fatalf("STILE_TEST_PG_URLS: %q is not VERSION=URL", pair)
		}
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatalf("STILE_TEST_PG_URLS: %v", err)
		}
		out = append(out, Cluster{Version: v, URL: u, cfg: cfg})
	}
	slices.SortFunc(out, func(a, b Cluster) int { return strings.Compare(a.Version, b.Version) })
	return out
}

// First returns the lowest-versioned cluster.
func First(t testing.TB) Cluster { return Clusters(t)[0] }

// Two returns the two lowest-versioned clusters, for tests that need two
// clusters; it fails the test when fewer are configured (make test starts
// three).
func Two(t testing.TB) (Cluster, Cluster) {
	t.Helper()
	cs := Clusters(t)
	if len(cs) < 2 {
		t.Fatal("this test needs two clusters in STILE_TEST_PG_URLS (make test starts 15, 16 and 17)")
	}
	return cs[0], cs[1]
}

// Each runs fn as a subtest per cluster, named pgVERSION.
func Each(t *testing.T, fn func(t *testing.T, c Cluster)) {
	for _, c := range Clusters(t) {
		t.Run("pg"+c.Version, func(t *testing.T) { fn(t, c) })
	}
}

// Target returns a superuser target on the cluster.
func (c Cluster) Target() target.Target {
	return target.Target{
		Host: c.cfg.Host, Port: int(c.cfg.Port), Database: "postgres", SSLMode: "disable",
		User: c.cfg.User, Password: c.cfg.Password,
	}
}

// As returns a target for another login on the cluster.
func (c Cluster) As(user, password string) target.Target {
	t := c.Target()
	t.User, t.Password = user, password
	return t
}

// Conn opens a superuser connection to database, closed at cleanup.
func (c Cluster) Conn(t testing.TB, database string) *pgx.Conn {
	t.Helper()
	conn, err := c.Target().Connect(context.Background(), database)
	if err != nil {
		t.Fatalf("connect to %s: %v", database, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs statements as superuser in database, failing the test on error.
func (c Cluster) Exec(t testing.TB, database string, stmts ...string) {
	t.Helper()
	conn, err := c.Target().Connect(context.Background(), database)
	if err != nil {
		t.Fatalf("connect to %s: %v", database, err)
	}
	defer conn.Close(context.Background())
	for _, s := range stmts {
		if _, err := conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %s: %v", database, s, err)
		}
	}
}

// Prefix returns a random lowercase name prefix for one test's roles and
// databases, and drops everything carrying it when the test ends (roles are
// cluster-global, so tests must not share names).
func (c Cluster) Prefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	prefix := "t" + hex.EncodeToString(b)
	t.Cleanup(func() { c.dropAll(t, prefix) })
	return prefix
}

func (c Cluster) dropAll(t testing.TB, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := c.Target().Connect(ctx, "postgres")
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer conn.Close(ctx)
	like := "%" + prefix + "%"
	dbs := names(ctx, t, conn, "SELECT datname FROM pg_database WHERE datname LIKE $1", like)
	for _, db := range dbs {
		// A time of its own: dropping a benchmark's database of 30,000
		// relations' files alone takes seconds.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err := conn.Exec(dctx, "DROP DATABASE "+sqlq.Ident(db)+" WITH (FORCE)")
		cancel()
		if err != nil {
			t.Errorf("cleanup: drop database %s: %v", db, err)
		}
	}
	// The roles get time of their own as well: the drops of a large
	// fixture's databases outlast the first 30 seconds.
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	roles := names(ctx, t, conn, "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", like)
	if len(roles) == 0 {
		return
	}
	for _, db := range names(ctx, t, conn, "SELECT datname FROM pg_database WHERE datallowconn") {
		dc, err := c.Target().Connect(ctx, db)
		if errs.Is(err, errs.NotFound) {
			continue // another test's database, dropped meanwhile
		}
		if err != nil {
			// Another test's database, dropped while we connected, or
			// closed to connections meanwhile (a test of databases that
			// refuse them, in another package's process): nothing of
			// this test's is in it.
			var open bool
			if qerr := conn.QueryRow(ctx, "SELECT coalesce((SELECT datallowconn FROM pg_database WHERE datname = $1), false)", db).Scan(&open); qerr == nil && !open {
				continue
			}
			t.Errorf("cleanup: %v", err)
			continue
		}
		if _, err := dc.Exec(ctx, "DROP OWNED BY "+sqlq.Idents(roles)+" CASCADE"); err != nil && !droppedMeanwhile(err) {
			t.Errorf("cleanup: drop owned in %s: %v", db, err)
		}
		dc.Close(ctx)
	}
	for _, r := range roles {
		if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+sqlq.Ident(r)); err != nil {
			t.Errorf("cleanup: drop role %s: %v", r, err)
		}
	}
}

// droppedMeanwhile reports an error from another test's database being
// dropped (WITH (FORCE) ends its connections) while this cleanup visits it:
// that database holds nothing of this test's.
func droppedMeanwhile(err error) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (pgErr.Code == "57P01" || pgErr.Code == "3D000") // admin_shutdown, invalid_catalog_name
}

func names(ctx context.Context, t testing.TB, conn *pgx.Conn, q string, args ...any) []string {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return nil
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	return out
}

// Major returns the cluster's major version as a number.
func (c Cluster) Major() int {
	var m int
	fmt.Sscan(c.Version, &m)
	return m
}
