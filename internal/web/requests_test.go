package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestWebRequests: in Chromium, a member eligible for a role requests a
// window on its page (the policy wants a reason), an approver approves it
// from the inbox, the member runs a query in the console during the window
// and sees its time left, and after its end the role page and the request
// say it ended and the console is refused.
func TestWebRequests(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	db := p + "_ops"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, "CREATE TABLE public.jobs (id int)", "INSERT INTO public.jobs VALUES (1), (2), (3)")
	srv := startStileStore(t)
	base, svc, bg := srv.base, srv.svc, context.Background()
	manageResource(t, svc, p, tg)
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "ops", Scopes: []string{db}, Privileges: []string{"SELECT"}})
	tokens := map[string]string{}
	for user, group := range map[string]string{"ann": "oncall", "bob": "dba"} {
		must(t, svc.Access.CreateUser(bg, service.Admin, user, false))
		_, tok, err := svc.Access.CreateToken(bg, service.Admin, user)
		must(t, err)
		tokens[user] = tok
		must(t, svc.Access.CreateGroup(bg, service.Admin, group))
		must(t, svc.Access.SetMember(bg, service.Admin, group, user, true))
	}
	must(t, svc.Access.Grant(bg, service.Admin, store.Grant{Role: role, Group: "oncall", Eligible: true}))
	must(t, svc.Requests.SetPolicy(bg, service.Admin, store.AccessPolicy{Role: role, MaxSeconds: 3600, ReasonRequired: true, Approvers: []string{"dba"}, Approvals: 1, PendingSeconds: 600}))
	// The enforcement and the sweep, as the server runs them.
	sweep, stop := context.WithCancel(bg)
	t.Cleanup(stop)
	go svc.Connections.EnforceAccessEvery(sweep, time.Second)
	go svc.Requests.ExpireEvery(sweep, time.Second)

	signIn := func(user string) {
		t.Helper()
		run(t, ctx, "sign in as "+user, chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#token", chromedp.ByID),
			chromedp.SendKeys("#token", tokens[user], chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#signout", chromedp.ByID))
	}
	signOut := func() {
		t.Helper()
		run(t, ctx, "sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID))
	}

	// ann sees the role with a Request link, and asks for 20 seconds.
	signIn("ann")
	run(t, ctx, "roles", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible(".request-link", chromedp.ByQuery))
	const window = "20s"
	run(t, ctx, "request", chromedp.Click(".request-link", chromedp.ByQuery), chromedp.WaitVisible("#request-form", chromedp.ByID),
		chromedp.SetValue("#request-for", window, chromedp.ByID), chromedp.SendKeys("#request-reason", "INC-77", chromedp.ByID),
		chromedp.Click("#request-submit", chromedp.ByID), chromedp.WaitVisible("#request-detail", chromedp.ByID))
	if s := text(t, ctx, "#request-status"); s != "pending" {
		t.Fatalf("the new request is %q", s)
	}
	if n := count(t, ctx, ".review"); n != 0 {
		t.Errorf("ann is offered to review her own request (%d forms)", n)
	}
	shot(t, ctx, "24-request")
	signOut()

	// bob approves it from his inbox.
	signIn("bob")
	run(t, ctx, "inbox", chromedp.Navigate(base+"/requests"), chromedp.WaitVisible("#requests-inbox", chromedp.ByID))
	if s := text(t, ctx, "#requests-inbox"); !strings.Contains(s, "ann") || !strings.Contains(s, "INC-77") {
		t.Fatalf("bob's inbox: %q", s)
	}
	shot(t, ctx, "25-requests-inbox")
	run(t, ctx, "approve", chromedp.Click("#requests-inbox .approve", chromedp.ByQuery), chromedp.WaitVisible("#request-window", chromedp.ByID))
	if s := text(t, ctx, "#request-status"); s != "approved" {
		t.Fatalf("after bob's approval the request is %q", s)
	}
	signOut()

	// ann, in her window: the roles page says how long is left, the
	// console runs her query.
	signIn("ann")
	run(t, ctx, "roles in the window", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible(".my-access", chromedp.ByQuery))
	if s := text(t, ctx, ".my-access"); !strings.Contains(s, "window") || !strings.Contains(s, "left") {
		t.Errorf("ann's access in her window: %q", s)
	}
	run(t, ctx, "console", chromedp.Navigate(base+"/console"), chromedp.WaitVisible("#console-sql", chromedp.ByID),
		chromedp.SetValue("#console-role", role, chromedp.ByID), chromedp.SetValue("#console-database", db, chromedp.ByID),
		chromedp.SendKeys("#console-sql", "SELECT count(*) AS jobs FROM public.jobs", chromedp.ByID), clickHX("#console-run"),
		chromedp.WaitVisible("#console-took", chromedp.ByID))
	if s := text(t, ctx, "#console-result"); !strings.Contains(s, "3") {
		t.Errorf("the console in the window: %q", s)
	}
	shot(t, ctx, "26-console-in-window")

	// The window ends: the role page offers a request again, the request
	// says it ended, the console is refused.
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(time.Second) {
		run(t, ctx, "role page", chromedp.Navigate(base+"/roles/"+role), chromedp.WaitVisible("#role-access", chromedp.ByID))
		if count(t, ctx, "#request-form") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the role page after the window: %q", text(t, ctx, "#role-access"))
		}
	}
	run(t, ctx, "my requests", chromedp.WaitVisible(".requests", chromedp.ByQuery))
	if s := text(t, ctx, ".requests"); !strings.Contains(s, "ended") {
		t.Errorf("ann's requests after the end: %q", s)
	}
	shot(t, ctx, "27-window-ended")
	run(t, ctx, "console after the end", chromedp.Navigate(base+"/console"), chromedp.WaitVisible("#console-sql", chromedp.ByID),
		chromedp.SetValue("#console-role", role, chromedp.ByID), chromedp.SetValue("#console-database", db, chromedp.ByID),
		chromedp.SendKeys("#console-sql", "SELECT 1", chromedp.ByID), clickHX("#console-run"), chromedp.WaitVisible("#console-error", chromedp.ByID))
	if s := text(t, ctx, "#console-error"); !strings.Contains(s, "none open") {
		t.Errorf("the console after the window: %q", s)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWebCampaign: in Chromium, an administrator starts a recertification
// campaign, keeps the grants nobody used, revokes them in bulk, then
// confirms the rest in bulk, which closes it; the revoked groups lose the
// role.
func TestWebCampaign(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	db := p + "_ops"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	srv := startStileStore(t)
	base, svc, bg := srv.base, srv.svc, context.Background()
	manageResource(t, svc, p, tg)
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "ops", Scopes: []string{db}, Privileges: []string{"SELECT"}})
	for i, g := range []string{"used", "idle1", "idle2", "idle3"} {
		must(t, svc.Access.CreateGroup(bg, service.Admin, g))
		user := fmt.Sprintf("u%d", i)
		must(t, svc.Access.CreateUser(bg, service.Admin, user, false))
		must(t, svc.Access.SetMember(bg, service.Admin, g, user, true))
		must(t, svc.Access.SetAccess(bg, service.Admin, role, g, true))
	}
	// u0 (of group used) used the role yesterday.
	yesterday := time.Now().UTC().Add(-24 * time.Hour)
	must(t, srv.store.AddUsage(bg, store.ConnectionUsage{Session: store.Session{Role: role, Actor: "u0", CreatedAt: yesterday, FinishedAt: yesterday}, Usage: store.Usage{Connections: 1}}))

	run(t, ctx, "sign in", chromedp.Navigate(base+"/campaigns"), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#campaign-start", chromedp.ByID))
	run(t, ctx, "start", chromedp.Click("#campaign-start-button", chromedp.ByID), chromedp.WaitVisible("#campaign-items", chromedp.ByID))
	if n := count(t, ctx, ".campaign-item"); n != 4 {
		t.Fatalf("the campaign has %d grants, want 4", n)
	}
	run(t, ctx, "only the unused", chromedp.Click("#filter-unused", chromedp.ByID), chromedp.WaitVisible("#show-all", chromedp.ByID))
	if n := count(t, ctx, ".campaign-item"); n != 3 || strings.Contains(text(t, ctx, "#campaign-items"), "used\n") {
		t.Fatalf("the unused grants: %d rows\n%s", n, text(t, ctx, "#campaign-items"))
	}
	shot(t, ctx, "28-campaign-unused")
	run(t, ctx, "revoke the unused in bulk", chromedp.Click("#select-all", chromedp.ByID), chromedp.Click("#revoke-selected", chromedp.ByID))
	eventually(t, ctx, "the revocations", `(document.querySelector('#campaign-summary') || {textContent: ''}).textContent.includes('3 revoked')`)
	if s := text(t, ctx, "#campaign-summary"); !strings.Contains(s, "1 pending, 0 confirmed, 3 revoked") {
		t.Fatalf("after revoking in bulk: %q", s)
	}
	run(t, ctx, "confirm the rest in bulk", chromedp.Click("#show-all", chromedp.ByID), chromedp.WaitVisible("#filter-unused", chromedp.ByID),
		chromedp.Click("#select-all", chromedp.ByID), chromedp.Click("#confirm-selected", chromedp.ByID))
	eventually(t, ctx, "the confirmation", `(document.querySelector('#campaign-summary') || {textContent: ''}).textContent.includes('closed')`)
	if s := text(t, ctx, "#campaign-summary"); !strings.Contains(s, "closed") || !strings.Contains(s, "0 pending, 1 confirmed, 3 revoked") {
		t.Fatalf("after confirming the rest: %q", s)
	}
	shot(t, ctx, "29-campaign-closed")
	access, err := svc.Access.Access(bg, service.Admin)
	must(t, err)
	if got := access[role]; len(got) != 1 || got[0] != "used" {
		t.Errorf("grants after the campaign: %v", got)
	}
	// The role's page: its use against what it holds, and its password.
	run(t, ctx, "role page", chromedp.Navigate(base+"/roles/"+role), chromedp.WaitVisible("#rotation-status", chromedp.ByID), clickHX("#suggest"),
		chromedp.WaitVisible("#suggest-summary", chromedp.ByID))
	if s := text(t, ctx, "#role-suggest"); !strings.Contains(s, "0 connection(s)") || !strings.Contains(s, "Nothing used") {
		t.Errorf("the role's use: %q", s)
	}
	if s := text(t, ctx, "#rotation-status"); !strings.Contains(s, "Password set") || !strings.Contains(s, "No rotation schedule") {
		t.Errorf("the role's password: %q", s)
	}
}

// TestWebBrownfield: in Chromium, the resource page's link lists every role
// of the cluster, a hand-made one among them, and the who-can page answers
// who reads a table, with its CSV.
func TestWebBrownfield(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	db := p + "_ops"
	c.Exec(t, "postgres", "CREATE DATABASE "+db, "CREATE ROLE "+p+"_legacy LOGIN")
	c.Exec(t, db, "CREATE TABLE public.jobs (id int)", "GRANT SELECT ON public.jobs TO "+p+"_legacy")
	srv := startStileStore(t)
	base, svc := srv.base, srv.svc
	manageResource(t, svc, p, c.Target())

	run(t, ctx, "sign in", chromedp.Navigate(base+"/resources/"+p), chromedp.WaitVisible("#token", chromedp.ByID),
		chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#discover-link", chromedp.ByID))
	run(t, ctx, "every role", chromedp.Click("#discover-link", chromedp.ByID), chromedp.WaitVisible("#discover-roles", chromedp.ByID))
	if s := text(t, ctx, "#discover-roles"); !strings.Contains(s, p+"_legacy") || !strings.Contains(s, db+".public table: SELECT 1/1") {
		t.Fatalf("every role:\n%s", s)
	}
	run(t, ctx, "who can", chromedp.Navigate(base+"/who-can"), chromedp.WaitVisible("#whocan-form", chromedp.ByID),
		chromedp.SendKeys("#whocan-object", db+".public.jobs", chromedp.ByID), chromedp.SetValue("#whocan-resource", p, chromedp.ByID),
		chromedp.Click("#whocan-ask", chromedp.ByID), chromedp.WaitVisible("#whocan-holders", chromedp.ByID))
	if s := text(t, ctx, "#whocan-holders"); !strings.Contains(s, p+"_legacy") || !strings.Contains(s, "granted") || !strings.Contains(s, "owner, superuser\t") {
		t.Fatalf("who can:\n%s", s)
	}
	shot(t, ctx, "30-who-can")
	var csv string
	run(t, ctx, "csv", chromedp.Evaluate(`fetch(document.getElementById('whocan-csv').href).then((r) => r.text())`, &csv,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if !strings.HasPrefix(csv, "resource,role,how,") || !strings.Contains(csv, p+","+p+"_legacy,granted,yes,no,unmanaged") {
		t.Errorf("the CSV:\n%s", csv)
	}
}
