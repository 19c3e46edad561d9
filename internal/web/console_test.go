package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
)

// TestWebConsole: in Chromium, SQL run from the console as a resource role
// comes back masked by the role's rules, a statement its guardrails refuse
// shows the refusal, Cancel stops a long query on the server, and the CSV
// download is masked as shown.
func TestWebConsole(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	db := p + "_crm"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, "CREATE TABLE public.customers (name text, email text)", "INSERT INTO public.customers SELECT 'c' || i, 'c' || i || '@example.com' FROM generate_series(1, 250) i")
	srv := startStileStore(t)
	base, svc, bg := srv.base, srv.svc, context.Background()
	manageResource(t, svc, p, tg)
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "crm", Scopes: []string{db}, Privileges: []string{"SELECT", "DELETE"}})
	if _, err := svc.Masking.AddMaskRule(bg, service.Principal{User: "admin", Admin: true}, role, mask.Rule{ID: "mail", Column: db + ".public.customers.email", Style: mask.Partial}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Masking.SetGuardrails(bg, service.Principal{User: "admin", Admin: true}, role, guard.Policy{Block: []string{guard.DeleteWithoutWhere}}); err != nil {
		t.Fatal(err)
	}

	run(t, ctx, "sign in", chromedp.Navigate(base+"/console"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#console-sql", chromedp.ByID))
	run(t, ctx, "query", chromedp.SetValue("#console-role", role, chromedp.ByID), chromedp.SetValue("#console-database", db, chromedp.ByID),
		chromedp.SendKeys("#console-sql", "SELECT name, email FROM public.customers ORDER BY 1", chromedp.ByID), clickHX("#console-run"),
		chromedp.WaitVisible("#console-took", chromedp.ByID))
	s := text(t, ctx, "#console-result")
	if !strings.Contains(s, "c1") || !strings.Contains(s, "c*@e******.com") || strings.Contains(s, "@example.com") {
		t.Errorf("the console's result is not masked:\n%.400s", s)
	}
	if !strings.Contains(text(t, ctx, "#console-result .pager"), "rows 1-100 of 250") {
		t.Errorf("250 rows are not paged by 100")
	}
	shot(t, ctx, "21-console")

	// Ctrl-Enter runs; the guardrails refuse.
	run(t, ctx, "refused", chromedp.SetValue("#console-sql", "DELETE FROM public.customers", chromedp.ByID), chromedp.Focus("#console-sql", chromedp.ByID),
		chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(input.ModifierCtrl)), chromedp.WaitVisible("#console-error", chromedp.ByID))
	if s := text(t, ctx, "#console-error"); !strings.Contains(s, "DELETE without a WHERE") || !strings.Contains(s, "42501") {
		t.Errorf("the guardrail's refusal: %q", s)
	}

	// Cancel stops a long query on the server.
	run(t, ctx, "long query", chromedp.SetValue("#console-sql", "SELECT pg_sleep(60)", chromedp.ByID), chromedp.Click("#console-run", chromedp.ByID))
	sleeping := func() int {
		var n int
		c.Conn(t, "postgres").QueryRow(bg, "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND query = 'SELECT pg_sleep(60)' AND state = 'active'", role).Scan(&n)
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); sleeping() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long query never started")
		}
	}
	run(t, ctx, "cancel", chromedp.Click("#console-cancel", chromedp.ByID))
	for deadline := time.Now().Add(10 * time.Second); sleeping() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Cancel did not stop the query on the server")
		}
	}

	// The CSV download is masked as shown.
	var csv string
	run(t, ctx, "csv", chromedp.SetValue("#console-sql", "SELECT email FROM public.customers ORDER BY 1 LIMIT 2", chromedp.ByID),
		chromedp.Evaluate(`fetch('/console/csv', {method: 'POST', body: new URLSearchParams(new FormData(document.getElementById('console-form')))}).then((r) => r.text())`, &csv,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if csv != "email\nc***@e******.com\nc***@e******.com\n" {
		t.Errorf("the CSV: %q", csv)
	}
}
