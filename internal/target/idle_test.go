package target_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/target"
)

func pid(t *testing.T, c *pgx.Conn) int {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIdleConnections: a returned connection is lent again; one given back
// in a transaction, or as not reusable, is closed; another password is
// another connection; an idle connection the server killed is replaced;
// closing the pool closes them all.
func TestIdleConnections(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	ctx := context.Background()
	pool := target.NewPool(time.Minute, target.DefaultIdleMax)
	t.Cleanup(pool.Close)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_db", "CREATE ROLE "+p+"_admin LOGIN PASSWORD 'first'")
	tg := c.As(p+"_admin", "first").In(pool)
	db := p + "_db"

	a, err := tg.Borrow(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	first := pid(t, a)
	tg.Return(db, a, true)
	b, err := tg.Borrow(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := pid(t, b); got != first {
		t.Fatalf("a returned connection was not lent again: backend %d, then %d", first, got)
	}

	// In a transaction: closed, not kept.
	if _, err := b.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	tg.Return(db, b, true)
	if !b.IsClosed() {
		t.Fatal("a connection given back inside a transaction was kept")
	}
	// Given back as not reusable (its use failed): closed.
	d, _ := tg.Borrow(ctx, db)
	tg.Return(db, d, false)
	if !d.IsClosed() {
		t.Fatal("a connection given back as not reusable was kept")
	}

	// Another password is another key: the old connection is not lent.
	e, _ := tg.Borrow(ctx, db)
	old := pid(t, e)
	tg.Return(db, e, true)
	c.Exec(t, "postgres", "ALTER ROLE "+p+"_admin PASSWORD 'second'")
	changed := c.As(p+"_admin", "second").In(pool)
	f, err := changed.Borrow(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if pid(t, f) == old {
		t.Fatal("a connection made with the old password was lent for the new one")
	}
	changed.Return(db, f, true)

	// Killed while idle: replaced.
	g, _ := changed.Borrow(ctx, db)
	killed := pid(t, g)
	changed.Return(db, g, true)
	c.Exec(t, "postgres", "SELECT pg_terminate_backend("+strconv.Itoa(killed)+")")
	deadline := time.Now().Add(5 * time.Second)
	for {
		var alive bool
		c.Conn(t, "postgres").QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", killed).Scan(&alive)
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backend did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	h, err := changed.Borrow(ctx, db)
	if err != nil {
		t.Fatalf("borrow after the idle connection was killed: %v", err)
	}
	if got := pid(t, h); got == killed {
		t.Fatal("a killed connection was lent")
	}
	changed.Return(db, h, true)

	if pool.Idle() == 0 {
		t.Fatal("nothing kept idle")
	}
	pool.Close()
	if n := pool.Idle(); n != 0 {
		t.Fatalf("%d connections kept with the timeout off", n)
	}
}

// TestIdleConnectionsPerCluster: a pool keeps at most its maximum of idle
// connections to one cluster, one database's or several; the rest are
// closed when given back. A maximum of zero keeps none.
func TestIdleConnectionsPerCluster(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	ctx := context.Background()
	dbs := []string{p + "_a", p + "_b", p + "_c"}
	for _, db := range dbs {
		c.Exec(t, "postgres", "CREATE DATABASE "+db)
	}
	for _, max := range []int{2, 0} {
		pool := target.NewPool(time.Minute, max)
		tg := c.Target().In(pool)
		var conns []*pgx.Conn
		for _, db := range dbs {
			conn, err := tg.Borrow(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
		}
		for i, db := range dbs {
			tg.Return(db, conns[i], true)
		}
		if n := pool.Idle(); n != max {
			t.Errorf("a pool of at most %d per cluster keeps %d idle", max, n)
		}
		if closed := conns[2].IsClosed(); !closed {
			t.Errorf("at most %d: the connection given back past the maximum is open", max)
		}
		pool.Close()
	}
}
