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
	svc      *service.Service
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
	ss, err := e.svc.Sessions(context.Background(), store.SessionFilter{Resource: e.resource, Kind: service.KindConnect})
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
