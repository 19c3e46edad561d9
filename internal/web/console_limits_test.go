package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// consoleEnv is a signed-in console on a test database with a table
// public.scratch (id int), and a resource role that may read and insert.
type consoleEnv struct {
	c        pgtest.Cluster
	ctx      context.Context
	svc      *service.Services
	resource string
	role, db string
}

// newConsole starts a server (conf changes its configuration; nil for
// none), a role and Chromium signed in on the console with the role and
// database picked. setup runs first in the database, as the superuser.
func newConsole(t *testing.T, conf func(*service.Config), setup ...string) consoleEnv {
	t.Helper()
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	db := p + "_console"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, append([]string{"CREATE TABLE public.scratch (id int)", "INSERT INTO public.scratch VALUES (1), (2)"}, setup...)...)
	srv := startStileWith(t, conf)
	manageResource(t, srv.svc, p, c.Target())
	role := applyRole(t, srv.svc, spec.Role{Resource: p, Label: "console", Scopes: []string{db}, Privileges: []string{"SELECT", "INSERT"}})
	run(t, ctx, "sign in", chromedp.Navigate(srv.base+"/console"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#console-sql", chromedp.ByID),
		chromedp.SetValue("#console-role", role, chromedp.ByID), chromedp.SetValue("#console-database", db, chromedp.ByID))
	return consoleEnv{c: c, ctx: ctx, svc: srv.svc, resource: p, role: role, db: db}
}

// run runs sql from the console and waits for the answer: the element
// wait (#console-took or #console-error) in the fresh result.
func (e consoleEnv) run(t *testing.T, sql, wait string) {
	t.Helper()
	run(t, e.ctx, "run "+sql, chromedp.Evaluate(`document.getElementById('console-result').replaceChildren()`, nil),
		chromedp.SetValue("#console-sql", sql, chromedp.ByID), clickHX("#console-run"), chromedp.WaitVisible(wait, chromedp.ByQuery))
}

// backends counts the role's backends on the server.
func (e consoleEnv) backends(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.c.Conn(t, "postgres").QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", e.role).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// running counts the role's connect sessions still running.
func (e consoleEnv) running(t *testing.T) int {
	t.Helper()
	ss, err := e.svc.Reporting.Sessions(context.Background(), service.Admin, store.SessionFilter{Resource: e.resource, Kind: service.KindConnect})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range ss {
		if s.Status == "running" {
			n++
		}
	}
	return n
}

// gone waits until the role has no backend left on the server and no
// connect session running.
func (e consoleEnv) gone(t *testing.T, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); e.backends(t) > 0 || e.running(t) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %s the role still has %d backend(s) and %d connect session(s) running", within, e.backends(t), e.running(t))
		}
	}
}

// TestWebConsoleRefusesCopyFromStdin: the console has no data to send, so a
// COPY FROM STDIN is refused at once with words that say so, and leaves no
// backend holding the table's lock nor a session running.
func TestWebConsoleRefusesCopyFromStdin(t *testing.T) {
	e := newConsole(t, nil)
	e.run(t, "COPY public.scratch FROM STDIN", "#console-error")
	if s := text(t, e.ctx, "#console-error"); !strings.Contains(s, "COPY") || !strings.Contains(s, "no data to send") {
		t.Errorf("the refusal: %q", s)
	}
	e.gone(t, 10*time.Second)
	// However the statement is spelt, the protocol gives it away.
	e.run(t, "select 1; /* */ copy   public.scratch (id) from stdin with (format csv)", "#console-error")
	if s := text(t, e.ctx, "#console-error"); !strings.Contains(s, "no data to send") {
		t.Errorf("the refusal: %q", s)
	}
	e.gone(t, 10*time.Second)
	// The table is not locked: the console can still write to it.
	e.run(t, "INSERT INTO public.scratch VALUES (3)", "#console-took")
}

// TestWebConsoleAbortClosesBackend: a query that ignores the cancel request
// (it catches query_canceled) is ended by closing its connection, so the
// backend goes away and the session finishes.
func TestWebConsoleAbortClosesBackend(t *testing.T) {
	if pgtest.First(t).Major() < 14 {
		t.Skip("client_connection_check_interval needs PostgreSQL 14")
	}
	e := newConsole(t, nil, `CREATE FUNCTION public.stubborn() RETURNS void LANGUAGE plpgsql AS $$
		BEGIN LOOP BEGIN PERFORM pg_sleep(0.1); EXCEPTION WHEN query_canceled THEN NULL; END; END LOOP; END $$`)
	// The backend notices its client is gone while it sleeps.
	e.c.Exec(t, "postgres", "ALTER DATABASE "+e.db+" SET client_connection_check_interval = '100ms'")
	run(t, e.ctx, "stubborn query", chromedp.SetValue("#console-sql", "SELECT public.stubborn()", chromedp.ByID), clickHX("#console-run"))
	for deadline := time.Now().Add(10 * time.Second); e.backends(t) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the query never started")
		}
	}
	time.Sleep(300 * time.Millisecond)
	run(t, e.ctx, "cancel", chromedp.Click("#console-cancel", chromedp.ByID))
	e.gone(t, 15*time.Second)
	ss, err := e.svc.Reporting.Sessions(context.Background(), service.Admin, store.SessionFilter{Resource: e.resource, Kind: service.KindConnect})
	if err != nil || len(ss) != 1 || !strings.Contains(ss[0].Message, "did not stop when cancelled") {
		t.Errorf("the session does not say stile closed it: %+v (%v)", ss, err)
	}
}

// TestWebConsoleReadOnly: with the read-only box ticked, a SELECT shows its
// rows and an INSERT gets PostgreSQL's read-only refusal (and writes
// nothing).
func TestWebConsoleReadOnly(t *testing.T) {
	e := newConsole(t, nil)
	run(t, e.ctx, "tick read-only", chromedp.Click("#console-read-only", chromedp.ByID))
	e.run(t, "SELECT id * 10 AS tens FROM public.scratch ORDER BY 1", "#console-took")
	if s := text(t, e.ctx, "#console-result"); !strings.Contains(strings.ToLower(s), "tens") || !strings.Contains(s, "10") || !strings.Contains(s, "20") {
		t.Errorf("the read-only SELECT's result:\n%.400s", s)
	}
	e.run(t, "INSERT INTO public.scratch VALUES (3)", "#console-error")
	if s := text(t, e.ctx, "#console-error"); !strings.Contains(s, "read-only transaction") || !strings.Contains(s, "25006") {
		t.Errorf("the read-only INSERT: %q", s)
	}
	var n int
	if err := e.c.Conn(t, e.db).QueryRow(context.Background(), "SELECT count(*) FROM public.scratch").Scan(&n); err != nil || n != 2 {
		t.Errorf("scratch has %d rows (%v), want 2", n, err)
	}
	e.gone(t, 10*time.Second)
}

// TestWebConsoleCapsBytes: 1,000 rows of 50 KB values do not make a 50 MB
// page: the result is cut in bytes too, and the page says so.
func TestWebConsoleCapsBytes(t *testing.T) {
	e := newConsole(t, nil)
	e.run(t, "SELECT i, repeat('x', 50000) AS big FROM generate_series(1, 1000) i", "#console-took")
	var size int
	run(t, e.ctx, "size", chromedp.Evaluate(`document.getElementById('console-result').innerHTML.length`, &size))
	if size > 5<<20 {
		t.Errorf("the result is %d bytes of HTML", size)
	}
	if s := text(t, e.ctx, "#console-result .console-cut"); !strings.Contains(s, "MB") {
		t.Errorf("the note on the cut result: %q", s)
	}
	// One value larger than the whole budget is cut, not dropped.
	e.run(t, "SELECT repeat('y', 8000000) AS huge", "#console-took")
	if s := text(t, e.ctx, "#console-result .console-cut"); !strings.Contains(s, "cut") {
		t.Errorf("the note on the cut value: %q", s)
	}
	if s := text(t, e.ctx, "#console-result td"); !strings.HasPrefix(s, "yyyy") || len(s) > 1<<20 {
		t.Errorf("the huge value shows %d bytes", len(s))
	}
}

// TestWebConsoleDeadline: a console run has a time limit; past it the query
// is cancelled, the page says why, and nothing is left on the server.
func TestWebConsoleDeadline(t *testing.T) {
	e := newConsole(t, func(c *service.Config) { c.ConsoleTimeout = 2 * time.Second })
	start := time.Now()
	e.run(t, "SELECT pg_sleep(60)", "#console-error")
	if s := text(t, e.ctx, "#console-error"); !strings.Contains(s, "time limit") || !strings.Contains(s, "2s") {
		t.Errorf("the error past the deadline: %q", s)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %s", took)
	}
	e.gone(t, 10*time.Second)
}
