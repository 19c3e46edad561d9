package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestWebUsage: the Usage page and a role's usage, in Chromium. Three roles
// are applied on a real cluster; a person connects through the PostgreSQL
// listener and runs three statements; sixty days of earlier history are
// added to the store as connections that finished then (the roles are made
// sixty days old to match). The page draws the fleet's days, lists the
// roles used, and names the role and the grant nobody used for 30 days.
func TestWebUsage(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_shop")
	c.Exec(t, p+"_shop", "CREATE TABLE public.orders (id int)")
	srv := startStileStore(t)
	base, svc, dbPath := srv.base, srv.svc, srv.dbPath
	bg := context.Background()
	manageResource(t, svc, p, tg)
	role := map[string]string{}
	for _, label := range []string{"ro", "rw", "ops"} {
		role[label] = applyRole(t, svc, spec.Role{Resource: p, Label: label, Scopes: []string{p + "_shop"}, Privileges: []string{"SELECT"}})
	}
	var annToken string
	for _, step := range []func() error{
		func() error {
			return svc.Access.CreateUser(bg, service.Principal{User: "admin", Admin: true}, "ann", false)
		},
		func() error {
			return svc.Access.CreateUser(bg, service.Principal{User: "admin", Admin: true}, "bob", false)
		},
		func() error {
			_, tok, err := svc.Access.CreateToken(bg, service.Principal{User: "admin", Admin: true}, "ann")
			annToken = tok
			return err
		},
		func() error {
			return svc.Access.CreateGroup(bg, service.Principal{User: "admin", Admin: true}, "analysts")
		},
		func() error {
			return svc.Access.CreateGroup(bg, service.Principal{User: "admin", Admin: true}, "writers")
		},
		func() error {
			return svc.Access.SetMember(bg, service.Principal{User: "admin", Admin: true}, "analysts", "ann", true)
		},
		func() error {
			return svc.Access.SetMember(bg, service.Principal{User: "admin", Admin: true}, "writers", "bob", true)
		},
		func() error {
			return svc.Access.SetAccess(bg, service.Principal{User: "admin", Admin: true}, role["ro"], "analysts", true)
		},
		func() error {
			return svc.Access.SetAccess(bg, service.Principal{User: "admin", Admin: true}, role["rw"], "writers", true)
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}

	// History: ro used most days by ann and bob, rw by bob until 35 days
	// ago, ops never; the roles were applied 60 days ago.
	db, err := sql.Open("sqlite", dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE roles SET created_at = ?", time.Now().UTC().AddDate(0, 0, -60).Format("2006-01-02T15:04:05.000000000Z")); err != nil {
		t.Fatal(err)
	}
	var history []store.ConnectionUsage
	today := store.Day(time.Now())
	for d := 60; d >= 1; d-- {
		day := today.AddDate(0, 0, -d).Add(9 * time.Hour)
		add := func(r, user string, n int) {
			for i := range n {
				opened := day.Add(time.Duration(i) * 17 * time.Minute)
				history = append(history, store.ConnectionUsage{
					Session: store.Session{Role: r, Actor: user, CreatedAt: opened, FinishedAt: opened.Add(12 * time.Minute)},
					Usage:   store.Usage{Connections: 1, Seconds: 720, BytesIn: 2_000, BytesOut: 150_000, Statements: 40},
				})
			}
		}
		if d%7 != 0 && d%7 != 6 { // weekdays
			add(role["ro"], "ann", 2+d%3)
			add(role["ro"], "bob", 1+d%2)
		}
		if d >= 35 && d%3 == 0 {
			add(role["rw"], "bob", 1)
		}
	}
	if err := srv.store.AddUsage(bg, history...); err != nil {
		t.Fatal(err)
	}

	// Today: ann connects through the listener and runs three statements.
	host, port := serveListener(t, svc)
	// Someone tries passwords on the listener first: the tenth failure
	// within a minute raises one critical alert naming the address.
	for range 12 {
		if c, err := pgx.Connect(bg, fmt.Sprintf("postgres://%s:guess@%s:%s/%s_shop?sslmode=disable", role["ro"], host, port, p)); err == nil {
			c.Close(bg)
			t.Fatal("a wrong password signed in")
		}
	}
	var alerts struct{ Sessions []store.Session }
	api(t, base, "GET", "/api/v1/sessions?kind=alert", "", &alerts)
	if len(alerts.Sessions) != 1 || alerts.Sessions[0].Status != "critical" || !strings.Contains(alerts.Sessions[0].Message, "10 failed sign-ins from 127.0.0.1 (pg)") {
		t.Fatalf("alerts after 12 wrong passwords on the listener: %+v", alerts.Sessions)
	}
	conn, err := pgx.Connect(bg, fmt.Sprintf("postgres://%s:%s@%s:%s/%s_shop?sslmode=disable", role["ro"], annToken, host, port, p))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SELECT count(*) FROM public.orders", "SELECT 1", "SELECT now()"} {
		if _, err := conn.Exec(bg, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(bg)
	var used struct {
		Today store.Usage `json:"usage"`
	}
	for i := 0; ; i++ {
		api(t, base, "GET", "/api/v1/usage/users/ann?days=1", "", &used)
		if used.Today.Connections == 1 {
			break
		}
		if i > 100 {
			t.Fatalf("ann's connection today was never counted: %+v", used)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if used.Today.Statements != 3 || used.Today.BytesOut == 0 {
		t.Errorf("ann's connection today: %+v, want 3 statements and bytes", used.Today)
	}

	run(t, ctx, "sign in", chromedp.Navigate(base+"/usage"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#fleet-chart", chromedp.ByID))
	if n := count(t, ctx, "#fleet-chart rect.bar"); n != 30 {
		t.Errorf("the fleet chart has %d bars, want 30", n)
	}
	var todayBar string
	run(t, ctx, "today's bar", chromedp.AttributeValue(`#fleet-chart rect.bar[data-day="`+today.Format("2006-01-02")+`"]`, "data-value", &todayBar, nil, chromedp.ByQuery))
	if todayBar != "1" {
		t.Errorf("today's bar says %q connections, want 1", todayBar)
	}
	if s := text(t, ctx, "#usage-roles"); !strings.Contains(s, role["ro"]) || strings.Contains(s, role["rw"]) || strings.Contains(s, role["ops"]) {
		t.Errorf("roles used in 30 days:\n%s", s)
	}
	if s := text(t, ctx, "#usage-unused"); !strings.Contains(s, role["rw"]) || !strings.Contains(s, role["ops"]) || !strings.Contains(s, "never") || !strings.Contains(s, "writers") {
		t.Errorf("unused for 30 days:\n%s", s)
	}
	if s := text(t, ctx, "#usage-unused-grants"); !strings.Contains(s, role["rw"]) || !strings.Contains(s, "writers") || strings.Contains(s, "analysts") {
		t.Errorf("grants unused for 30 days:\n%s", s)
	}
	shot(t, ctx, "17-usage")

	// Over 90 days rw was used; ops, applied 60 days ago, is too young
	// to be unused for 90.
	run(t, ctx, "usage 90", chromedp.Navigate(base+"/usage?days=90"), chromedp.WaitVisible("#fleet-chart", chromedp.ByID))
	if n := count(t, ctx, "#fleet-chart rect.bar"); n != 90 {
		t.Errorf("the 90-day chart has %d bars", n)
	}
	if s := text(t, ctx, "#usage-roles"); !strings.Contains(s, role["rw"]) {
		t.Errorf("roles used in 90 days:\n%s", s)
	}
	if s := text(t, ctx, "#usage-unused"); strings.Contains(s, role["rw"]) || strings.Contains(s, role["ops"]) {
		t.Errorf("unused for 90 days:\n%s", s)
	}
	// One person's use.
	run(t, ctx, "ann's usage", chromedp.Navigate(base+"/usage?days=30&user=ann"), chromedp.WaitVisible("#usage-user", chromedp.ByID))
	if s := text(t, ctx, "#usage-user"); !strings.Contains(s, role["ro"]) || strings.Contains(s, role["rw"]) {
		t.Errorf("ann's usage:\n%s", s)
	}
	// The role page draws the role's 30 days and each user's last use.
	run(t, ctx, "role usage", chromedp.Navigate(base+"/roles/"+role["ro"]), chromedp.WaitVisible("#usage-role #role-chart", chromedp.ByQuery))
	if s := text(t, ctx, "#usage-role .last-uses"); !strings.Contains(s, "ann") || !strings.Contains(s, "bob") {
		t.Errorf("ro's last uses:\n%s", s)
	}
	shot(t, ctx, "18-role-usage")

	// Masking rules are added on the role's page.
	run(t, ctx, "add a masking rule", chromedp.SetValue("#mask-detector", "email", chromedp.ByID), chromedp.SetValue("#mask-style", "partial", chromedp.ByID),
		chromedp.Submit("#add-mask-rule", chromedp.ByID), chromedp.WaitVisible("#mask-rules form", chromedp.ByQuery))
	if s := text(t, ctx, "#mask-rules"); !strings.Contains(s, "email") || !strings.Contains(s, "partial") {
		t.Errorf("masking rules after adding one:\n%s", s)
	}
	run(t, ctx, "add a strict masking rule", chromedp.SetValue("#mask-column", "*.*.*.ssn", chromedp.ByID), chromedp.Click("#mask-strict", chromedp.ByID),
		chromedp.Submit("#add-mask-rule", chromedp.ByID), chromedp.WaitVisible("#mask-rules tr:nth-child(2) form", chromedp.ByQuery))
	if s := text(t, ctx, "#mask-rules"); !strings.Contains(s, "*.*.*.ssn") || !strings.Contains(s, "redact strict") {
		t.Errorf("masking rules after adding a strict one:\n%s", s)
	}
	run(t, ctx, "scroll to masking", chromedp.ScrollIntoView("#masking", chromedp.ByID))
	shot(t, ctx, "22-role-masking")
	run(t, ctx, "a bad masking rule", chromedp.SetValue("#mask-column", "not.a.column", chromedp.ByID), chromedp.Submit("#add-mask-rule", chromedp.ByID),
		chromedp.WaitVisible("main", chromedp.ByQuery))
	if s := text(t, ctx, "main"); !strings.Contains(s, "is not database.schema.table.column") {
		t.Errorf("a bad rule's page:\n%s", s)
	}

	// The access review, printable: each role's declaration and state, the
	// groups and who granted them, each person's last use.
	run(t, ctx, "access review", chromedp.Navigate(base+"/reports/access"), chromedp.WaitVisible("#report-"+role["ro"], chromedp.ByID))
	if s := text(t, ctx, "#report-"+role["ro"]); !strings.Contains(s, "SELECT on "+p+"_shop") || !strings.Contains(s, "applied") ||
		!strings.Contains(s, "Applied by admin") || !strings.Contains(s, "analysts") || !strings.Contains(s, "ann") || !strings.Contains(s, today.Format("2006-01-02")) {
		t.Errorf("ro in the access review:\n%s", s)
	}
	if s := text(t, ctx, "#report-"+role["ops"]); !strings.Contains(s, "administrators only") {
		t.Errorf("ops in the access review:\n%s", s)
	}
	shot(t, ctx, "19-access-review")
}
