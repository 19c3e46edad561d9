package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/proxy"
)

const token = "browser-test-token"

// browser starts Debian's Chromium headless with a fresh profile. Without
// Chromium the test skips locally and fails in CI.
func browser(t *testing.T) context.Context {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: CI must run the browser tests (make test installs it)")
		}
		t.Skip("chromium is not installed")
	}
	// A fresh profile, removed after the browser is gone (t.TempDir would
	// fail the test when Chromium is still flushing it at cleanup).
	profile, err := os.MkdirTemp("", "stile-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(profile), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(func() {
		chromedp.Cancel(bctx) // closes the browser and waits for it
		cancel2()
	})
	// The first Run starts the browser, bound to this context's lifetime.
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// outDir is where screenshots go: $STILE_TEST_OUT or testout/web at the
// repository root.
func outDir(t *testing.T) string {
	dir := os.Getenv("STILE_TEST_OUT")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "testout", "web")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(outDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs one step with its own deadline, so a step that never completes
// fails with the page it was stuck on.
func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var html string
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		chromedp.Run(dctx, chromedp.OuterHTML("body", &html, chromedp.ByQuery))
		t.Fatalf("%s: %v\npage:\n%s", step, err, html)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	run(t, ctx, "read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return s
}

// TestWebFunnel walks the reference's Steps 1-3 and the audit trail in a
// real browser against a real server and PostgreSQL.
func TestWebFunnel(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app", "CREATE DATABASE "+p+"_legacy")
	c.Exec(t, p+"_app", "CREATE TABLE public.orders (id serial primary key)", "CREATE TABLE public.users (id int)")
	c.Exec(t, p+"_legacy", "CREATE TABLE public.old (id int)")
	base := startStile(t)
	res := p + "a"

	// Sign in: unauthenticated pages lead to the sign-in page.
	run(t, ctx, "open", chromedp.Navigate(base+"/inventory"), chromedp.WaitVisible("#token", chromedp.ByID))
	shot(t, ctx, "01-sign-in")
	run(t, ctx, "wrong token", chromedp.SendKeys("#token", "nope", chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#login-error", chromedp.ByID))
	run(t, ctx, "sign in", chromedp.SendKeys("#token", token, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID), chromedp.WaitVisible("#resources", chromedp.ByID))

	// Step 1: a CSV with one bad row shows the preview and cannot be imported.
	bad := fmt.Sprintf("name,type,host,port\n%s,PostgreSQL,%s,%d\nbroken,mysql,%s,%d\n", res, tg.Host, tg.Port, tg.Host, tg.Port)
	run(t, ctx, "preview bad CSV", chromedp.SetValue("#inventory-csv", bad, chromedp.ByID), clickHX("#preview-csv"), chromedp.WaitVisible("#import-blocked", chromedp.ByID))
	if n := count(t, ctx, "#import"); n != 0 {
		t.Fatal("an import with an error row offers an Import button")
	}
	if s := text(t, ctx, "#import-preview"); !strings.Contains(s, "not supported") || !strings.Contains(s, "new") {
		t.Errorf("preview:\n%s", s)
	}
	shot(t, ctx, "02-inventory-preview-error")
	good := fmt.Sprintf("name,type,host,port,sslmode\n%[1]s,PostgreSQL,%[2]s,%[3]d,disable\n%[1]sb,PostgreSQL,%[2]s,%[3]d,disable\n", res, tg.Host, tg.Port)
	run(t, ctx, "preview good CSV", chromedp.SetValue("#inventory-csv", good, chromedp.ByID), clickHX("#preview-csv"), chromedp.WaitVisible("#import", chromedp.ByID))
	run(t, ctx, "import", clickHX("#import"), chromedp.WaitVisible("#import-done", chromedp.ByID))
	run(t, ctx, "inventory", chromedp.Navigate(base+"/inventory"), chromedp.WaitVisible("#resources", chromedp.ByID))
	if s := text(t, ctx, "#resources"); !strings.Contains(s, res) || !strings.Contains(s, "1/3") {
		t.Fatalf("inventory after import:\n%s", s)
	}
	if s := text(t, ctx, "#count-manage"); !strings.Contains(s, "2") {
		t.Errorf("manage counter: %q", s)
	}
	shot(t, ctx, "03-inventory")

	// The single-resource form adds one more; the resource page edits it
	// (previewed as an update) and the inventory removes it.
	extra := p + "z"
	run(t, ctx, "add one",
		chromedp.SendKeys(`#add-form input[name=name]`, extra, chromedp.ByQuery),
		chromedp.SendKeys(`#add-form input[name=host]`, "127.0.0.1", chromedp.ByQuery),
		clickHX("#add-one"), chromedp.WaitVisible("#import", chromedp.ByID))
	if s := text(t, ctx, "#import-preview"); !strings.Contains(s, extra) || !strings.Contains(s, "new") {
		t.Fatalf("single add preview:\n%s", s)
	}
	run(t, ctx, "import one", clickHX("#import"), chromedp.WaitVisible("#import-done", chromedp.ByID))
	run(t, ctx, "edit", chromedp.Navigate(base+"/resources/"+extra), chromedp.WaitVisible("#edit-preview", chromedp.ByID),
		chromedp.SetValue(`#edit-form input[name=port]`, "6543", chromedp.ByQuery), clickHX("#edit-preview"), chromedp.WaitVisible("#import", chromedp.ByID))
	if s := text(t, ctx, "#import-preview"); !strings.Contains(s, "update") || !strings.Contains(s, "port: 5432 -> 6543") {
		t.Fatalf("edit preview:\n%s", s)
	}
	run(t, ctx, "save edit", clickHX("#import"), chromedp.WaitVisible("#import-done", chromedp.ByID))
	run(t, ctx, "inventory with the extra one", chromedp.Navigate(base+"/inventory?q="+extra), chromedp.WaitVisible("#resources", chromedp.ByID))
	if s := text(t, ctx, "#resources"); !strings.Contains(s, ":6543") {
		t.Fatalf("edited resource:\n%s", s)
	}
	gone := fmt.Sprintf(`(() => { const t = document.querySelector('#resources'); return !!t && !t.innerText.includes(%q); })()`, extra)
	run(t, ctx, "remove", chromedp.Evaluate(`window.confirm = () => true`, nil), clickHX(`#resources button.remove`))
	eventually(t, ctx, "the removed resource leaves the inventory", gone)
	if s := text(t, ctx, "#resources"); !strings.Contains(s, res) {
		t.Fatalf("inventory after remove:\n%s", s)
	}

	// Step 2: a wrong admin password is refused next to the row and nothing
	// is stored; the right one is stored.
	row := "#admin-" + res
	run(t, ctx, "manage", chromedp.Navigate(base+"/manage"), chromedp.WaitVisible(row, chromedp.ByQuery))
	run(t, ctx, "wrong password",
		chromedp.SetValue(row+" input[name=user]", tg.User, chromedp.ByQuery),
		chromedp.SendKeys(row+" input[name=password]", "wrong", chromedp.ByQuery),
		clickHX(row+" button"),
		chromedp.WaitVisible(row+" .admin-error", chromedp.ByQuery))
	if s := text(t, ctx, row+" .admin-error"); !strings.Contains(s, "authentication failed") {
		t.Errorf("admin error: %q", s)
	}
	shot(t, ctx, "04-manage-wrong-password")
	run(t, ctx, "reload manage", chromedp.Navigate(base+"/manage"), chromedp.WaitVisible(row, chromedp.ByQuery))
	if s := text(t, ctx, row); strings.Contains(s, " set") {
		t.Fatalf("a refused credential was stored: %q", s)
	}
	// The bulk bar sets the right one on every selected resource.
	run(t, ctx, "bulk admin",
		chromedp.SetValue("#bulk input[name=user]", tg.User, chromedp.ByQuery),
		chromedp.SendKeys("#bulk input[name=password]", tg.Password, chromedp.ByQuery),
		clickHX("#bulk-apply"),
		chromedp.WaitVisible("#bulk-result table", chromedp.ByQuery))
	if s := text(t, ctx, "#bulk-result"); strings.Count(s, "stored") != 2 {
		t.Fatalf("bulk admin result:\n%s", s)
	}
	run(t, ctx, "manage after bulk", chromedp.Navigate(base+"/manage"), chromedp.WaitVisible("#count-manage", chromedp.ByID))
	if s := text(t, ctx, "#count-manage"); !strings.Contains(s, "0") {
		t.Errorf("manage counter after bulk: %q", s)
	}
	shot(t, ctx, "05-manage-done")
	var html string
	run(t, ctx, "page source", chromedp.OuterHTML("html", &html, chromedp.ByQuery))
	if strings.Contains(html, tg.Password) {
		t.Fatal("the admin password was sent back to the page")
	}

	// Step 3: roles CSV with a duplicate is flagged per row; then provision.
	dup := fmt.Sprintf("resource_name,type,role,scopes,permissions,source_role\n%[1]s,managed,ro,%[2]s_app;%[2]s_legacy.public,SELECT,\n%[1]s,managed,RO,%[2]s_app,SELECT,\n", res, p)
	run(t, ctx, "provision", chromedp.Navigate(base+"/provision"), chromedp.WaitVisible("#roles-csv", chromedp.ByID))
	if v := text(t, ctx, "#version"); !strings.HasPrefix(v, "stile dev+") {
		t.Errorf("the footer's version: %q", v)
	}
	run(t, ctx, "preview roles with a duplicate", chromedp.SetValue("#roles-csv", dup, chromedp.ByID), clickHX("#preview-roles"), chromedp.WaitVisible(".row-error", chromedp.ByQuery))
	if n := count(t, ctx, "#provision-all"); n != 0 {
		t.Fatal("a roles file with an error row can be provisioned")
	}
	shot(t, ctx, "06-roles-preview-error")
	roles := fmt.Sprintf("resource_name,type,role,scopes,permissions,source_role\n%[1]s,managed,ro,%[2]s_app;%[2]s_legacy.public,SELECT,\n%[1]s,managed,rw,%[2]s_app.public,SELECT;INSERT;UPDATE,\n%[1]s,external,ext,,,pg_read_all_data\n", res, p)
	run(t, ctx, "preview roles", chromedp.SetValue("#roles-csv", roles, chromedp.ByID), clickHX("#preview-roles"), chromedp.WaitVisible("#provision-all", chromedp.ByID))
	run(t, ctx, "provision all", clickHX("#provision-all"), chromedp.WaitVisible("#plan-results", chromedp.ByID))
	if s := text(t, ctx, "#plan-results"); strings.Count(s, "Plan ready") != 3 || !strings.Contains(s, "inherits pg_read_all_data") {
		t.Fatalf("plan results:\n%s", s)
	}
	shot(t, ctx, "07-plans-ready")

	// View a plan session: the SQL, the checksum, the document.
	var href string
	run(t, ctx, "session link", chromedp.AttributeValue("#plan-results a", "href", &href, nil, chromedp.ByQuery))
	run(t, ctx, "open session", chromedp.Navigate(base+href), chromedp.WaitVisible("#sql-plan", chromedp.ByID))
	if s := text(t, ctx, "#sql-plan"); !strings.Contains(s, "CREATE ROLE") || !strings.Contains(s, "GRANT") {
		t.Errorf("session SQL:\n%s", s)
	}
	shot(t, ctx, "08-plan-session")
	run(t, ctx, "back", chromedp.NavigateBack(), chromedp.WaitVisible("#roles-csv", chromedp.ByID))

	// Apply all (the page is re-planned if the back navigation lost it).
	if count(t, ctx, "#apply-all") == 0 {
		run(t, ctx, "re-plan", chromedp.SetValue("#roles-csv", roles, chromedp.ByID), clickHX("#preview-roles"),
			chromedp.WaitVisible("#provision-all", chromedp.ByID), clickHX("#provision-all"), chromedp.WaitVisible("#apply-all", chromedp.ByID))
	}
	// The three roles go as one batch, applied in the order ext, ro, rw.
	// An open transaction that updated the legacy database's row holds
	// ro's GRANT CONNECT there: ext's row must show its outcome while ro
	// and rw still wait, and once that transaction ends, so do theirs.
	hold := c.Conn(t, "postgres")
	tx, err := hold.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "GRANT CONNECT ON DATABASE "+p+"_legacy TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "apply all", clickHX("#apply-all"), chromedp.WaitVisible("tr.queued", chromedp.ByQuery), chromedp.WaitVisible("#plan-results .pill.applied", chromedp.ByQuery))
	if n := count(t, ctx, "tr.queued"); n != 2 {
		t.Fatalf("while ro waits: %d rows still queued, want 2 (ro and rw)\n%s", n, text(t, ctx, "#plan-results"))
	}
	shot(t, ctx, "09a-applying")
	tx.Rollback(context.Background())
	run(t, ctx, "batch ends", chromedp.WaitNotPresent("tr.queued", chromedp.ByQuery), chromedp.WaitVisible("#plan-results[data-done]", chromedp.ByQuery))
	if s := text(t, ctx, "#plan-results"); strings.Count(s, "Applied") != 3 {
		t.Fatalf("after apply:\n%s", s)
	}
	shot(t, ctx, "09-applied")

	// Drift by hand shows on the resource's re-plan.
	run(t, ctx, "resource page", chromedp.Navigate(base+"/resources/"+res), chromedp.WaitVisible("#replan-all", chromedp.ByID))
	run(t, ctx, "replan in sync", clickHX("#replan-all"), chromedp.WaitVisible("#plan-results", chromedp.ByID))
	if s := text(t, ctx, "#plan-results"); strings.Count(s, "In sync") != 3 {
		t.Fatalf("re-plan after apply:\n%s", s)
	}
	c.Exec(t, p+"_app", `GRANT DELETE ON public.users TO "stile_`+res+`_ro_`+hash8(res, "ro")+`"`)
	run(t, ctx, "replan after drift", chromedp.Navigate(base+"/resources/"+res), chromedp.WaitVisible("#replan-all", chromedp.ByID),
		clickHX("#replan-all"), chromedp.WaitVisible("#plan-results", chromedp.ByID))
	if s := text(t, ctx, "#plan-results"); strings.Count(s, "In sync") != 2 || strings.Count(s, "Plan ready") != 1 {
		t.Fatalf("re-plan after drift:\n%s", s)
	}
	shot(t, ctx, "10-drift")
	// Its plan marks the REVOKE that takes DELETE away as destructive.
	var driftPlan string
	run(t, ctx, "drift plan link", chromedp.AttributeValue(`#plan-results tr:has(.out-of-sync) a[href^="/sessions/"]`, "href", &driftPlan, nil, chromedp.ByQuery))
	run(t, ctx, "drift plan", chromedp.Navigate(base+driftPlan), chromedp.WaitVisible("pre.sql .c.d", chromedp.ByQuery))
	if s := text(t, ctx, "pre.sql span.d:not(.c)"); !strings.Contains(s, "REVOKE DELETE") {
		t.Fatalf("the destructive step: %q", s)
	}
	shot(t, ctx, "10b-drift-plan")

	// The Fleet page: the resource, its three roles by status, when they
	// were last planned, and a re-plan on the spot.
	run(t, ctx, "fleet", chromedp.Navigate(base+"/fleet"), chromedp.WaitVisible("#fleet-"+res, chromedp.ByID))
	if s := text(t, ctx, "#fleet-"+res); !strings.Contains(s, res) || !strings.Contains(s, "3") || strings.Contains(s, "never") {
		t.Errorf("fleet row:\n%s", s)
	}
	run(t, ctx, "fleet re-plan", clickHX("#fleet-"+res+" .replan"), chromedp.WaitVisible("#fleet-replan #plan-results", chromedp.ByQuery))
	if s := text(t, ctx, "#fleet-replan"); strings.Count(s, "In sync") != 2 || strings.Count(s, "Plan ready") != 1 {
		t.Errorf("fleet re-plan after drift:\n%s", s)
	}
	shot(t, ctx, "16-fleet")

	// The wizard plans one role from the live databases and schemas.
	run(t, ctx, "wizard", chromedp.Navigate(base+"/resources/"+res), chromedp.WaitVisible("#wizard", chromedp.ByID),
		chromedp.SendKeys("#wizard-label", "wiz", chromedp.ByID),
		chromedp.Click(fmt.Sprintf(`#wizard input[value=%q]`, p+"_legacy.public"), chromedp.ByQuery),
		clickHX("#wizard-plan"), chromedp.WaitVisible("#wizard-result #plan-results", chromedp.ByQuery))
	if s := text(t, ctx, "#wizard-result"); !strings.Contains(s, "Plan ready") || !strings.Contains(s, p+"_legacy.public") {
		t.Fatalf("wizard plan:\n%s", s)
	}
	shot(t, ctx, "11-wizard")

	// Someone creates that role by hand before the apply: the apply is
	// refused as drift, and one click re-plans.
	c.Exec(t, "postgres", `CREATE ROLE "stile_`+res+`_wiz_`+hash8(res, "wiz")+`"`)
	run(t, ctx, "apply drifted", clickHX("#wizard-result .apply-one"), chromedp.WaitVisible("#wizard-result .replan", chromedp.ByQuery))
	if s := text(t, ctx, "#wizard-result"); !strings.Contains(s, "Drift") || !strings.Contains(s, "changed since the plan") {
		t.Fatalf("apply after a by-hand change:\n%s", s)
	}
	shot(t, ctx, "12-drift-at-apply")
	run(t, ctx, "one-click re-plan", clickHX("#wizard-result .replan"), chromedp.WaitNotPresent("#wizard-result .replan", chromedp.ByQuery))
	if s := text(t, ctx, "#wizard-result"); !strings.Contains(s, "Plan ready") {
		t.Fatalf("re-plan after drift:\n%s", s)
	}

	// The applied roles are resource roles, each with its page.
	run(t, ctx, "resource roles", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible("#resource-roles-list", chromedp.ByID))
	if s := text(t, ctx, "#resource-roles-list"); !strings.Contains(s, "stile_"+res+"_ro_") {
		t.Fatalf("resource roles:\n%s", s)
	}
	run(t, ctx, "resource role page", chromedp.Click("#resource-roles-list a", chromedp.ByQuery), chromedp.WaitVisible("#role-sessions", chromedp.ByID))
	shot(t, ctx, "12b-resource-role")

	// A member's connection to a role that needs approval waits on the
	// Approvals page; approving it in the browser lets it through.
	var role string
	run(t, ctx, "role name", chromedp.Text("h1 code", &role, chromedp.ByQuery))
	member := approvalSetup(t, base, role)
	helloc := make(chan string, 1)
	go func() { helloc <- memberConnect(base, member, role) }()
	for i := 0; ; i++ {
		run(t, ctx, "approvals", chromedp.Navigate(base+"/approvals"), chromedp.WaitVisible("#approvals-pending", chromedp.ByID))
		if count(t, ctx, "#approvals-pending button.approve") > 0 {
			break
		}
		if i > 100 {
			t.Fatal("the member's request never showed on the Approvals page")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := text(t, ctx, "#approvals-pending"); !strings.Contains(s, "ana") || !strings.Contains(s, role) {
		t.Fatalf("pending approvals:\n%s", s)
	}
	shot(t, ctx, "12c-approvals")
	run(t, ctx, "approve", chromedp.Click("#approvals-pending button.approve", chromedp.ByQuery), chromedp.WaitVisible("#approvals-decided", chromedp.ByID))
	select {
	case got := <-helloc:
		if got != "ok" {
			t.Fatalf("the approved member's connection: %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the approved connection never went through")
	}
	if s := text(t, ctx, "#approvals-decided"); !strings.Contains(s, "ana") || !(strings.Contains(s, "approved") || strings.Contains(s, "used")) {
		t.Fatalf("decided approvals:\n%s", s)
	}
	run(t, ctx, "role access", chromedp.Navigate(base+"/roles/"+role), chromedp.WaitVisible("#role-access", chromedp.ByID))
	if s := text(t, ctx, "#role-access"); !strings.Contains(s, "analysts") || !strings.Contains(s, "approval") {
		t.Fatalf("role access:\n%s", s)
	}

	// The role page edits the same settings as stile access: approval off,
	// the group revoked and granted again; the password is revealed once,
	// and the reveal is a session.
	run(t, ctx, "approval off", chromedp.Click("#approval-toggle button", chromedp.ByQuery))
	eventually(t, ctx, "approval off", `document.querySelector('#role-access')?.textContent.includes('No approval needed')`)
	run(t, ctx, "revoke group", chromedp.Click("#role-groups .revoke-group", chromedp.ByQuery))
	eventually(t, ctx, "group revoked", `document.querySelector('#role-groups')?.textContent.includes('No group may use it')`)
	run(t, ctx, "grant group", chromedp.SetValue("#grant-group-name", "analysts", chromedp.ByID),
		chromedp.Click("#grant-group button", chromedp.ByQuery), chromedp.WaitVisible("#role-groups .revoke-group", chromedp.ByQuery))
	run(t, ctx, "reveal", clickHX("#reveal"), chromedp.WaitVisible("#revealed", chromedp.ByID))
	if pw := text(t, ctx, "#revealed"); len(pw) < 20 {
		t.Fatalf("revealed password %q", pw)
	}
	run(t, ctx, "reveal audited", chromedp.Reload(), chromedp.WaitVisible("#role-sessions", chromedp.ByID))
	if s := text(t, ctx, "#role-sessions"); !strings.Contains(s, "reveal") {
		t.Fatalf("role sessions after a reveal:\n%s", s)
	}
	shot(t, ctx, "12d-role-admin")

	// Retiring another role: plan, apply, and it is no longer a resource role.
	var names []string
	run(t, ctx, "role names", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible("#resource-roles-list", chromedp.ByID),
		chromedp.Evaluate(`[...document.querySelectorAll('#resource-roles-list a')].map(a => a.textContent)`, &names))
	retired := ""
	for _, n := range names {
		if n != role {
			retired = n
		}
	}
	if retired == "" {
		t.Fatalf("no second role to retire among %q", names)
	}
	run(t, ctx, "retire", chromedp.Navigate(base+"/roles/"+retired), chromedp.WaitVisible("#retire", chromedp.ByID),
		clickHX("#retire"), chromedp.WaitVisible("#retire-plan .apply-one", chromedp.ByQuery))
	shot(t, ctx, "12e-retire-plan")
	run(t, ctx, "apply retirement", clickHX("#retire-plan .apply-one"), chromedp.WaitVisible("#retire-plan .pill.applied", chromedp.ByQuery))
	run(t, ctx, "roles after retirement", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible("#resource-roles-list", chromedp.ByID))
	if s := text(t, ctx, "#resource-roles-list"); strings.Contains(s, retired) || !strings.Contains(s, role) {
		t.Fatalf("resource roles after retiring %s:\n%s", retired, s)
	}
	var left int
	if err := c.Conn(t, "postgres").QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", retired).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%s is still in pg_roles after its retirement (%d, %v)", retired, left, err)
	}

	// Sessions list, then sign out.
	run(t, ctx, "sessions", chromedp.Navigate(base+"/sessions?kind=apply"), chromedp.WaitVisible("#sessions", chromedp.ByID))
	if s := text(t, ctx, "#sessions"); strings.Count(s, "applied") < 3 {
		t.Errorf("apply sessions:\n%s", s)
	}
	shot(t, ctx, "13-sessions")
	run(t, ctx, "sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID))
	run(t, ctx, "after sign out", chromedp.Navigate(base+"/sessions"), chromedp.WaitVisible("#token", chromedp.ByID))
	run(t, ctx, "sign-in page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#token", chromedp.ByID))

	// The member signs in with her own token: she sees the one role her
	// group may use and her own connection, and nothing of the admin pages.
	run(t, ctx, "member sign in", chromedp.SendKeys("#token", member, chromedp.ByID), chromedp.Click("#signin", chromedp.ByID),
		chromedp.WaitVisible("#resource-roles-list", chromedp.ByID))
	if n := count(t, ctx, "#resource-roles-list a"); n != 1 || text(t, ctx, "#resource-roles-list a") != role {
		t.Fatalf("the member sees %d roles:\n%s", n, text(t, ctx, "#resource-roles-list"))
	}
	if count(t, ctx, `nav a[href="/inventory"]`) != 0 {
		t.Fatal("the member's navigation offers the inventory")
	}
	run(t, ctx, "member role page", chromedp.Click("#resource-roles-list a", chromedp.ByQuery), chromedp.WaitVisible("#role-sessions", chromedp.ByID))
	if count(t, ctx, "#role-admin") != 0 || !strings.Contains(text(t, ctx, "#role-sessions"), "ana") {
		t.Fatalf("the member's role page:\n%s", text(t, ctx, "main"))
	}
	shot(t, ctx, "14-member-role")
	run(t, ctx, "member inventory", chromedp.Navigate(base+"/inventory"), chromedp.WaitVisible("#forbidden", chromedp.ByID))
}

// clickHX clicks an element once htmx has bound its form or trigger:
// content that htmx just swapped in is processed a moment later, and a click
// before that would submit the form natively.
func clickHX(sel string) chromedp.Action {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false;
		const h = e.closest('[hx-post],[hx-get]'); return !!h && h['htmx-internal-data'] !== undefined
			&& document.querySelector('.htmx-settling, .htmx-swapping, .htmx-request') === null; })()`, sel)
	return chromedp.Tasks{chromedp.Poll(js, nil, chromedp.WithPollingInterval(20*time.Millisecond)), chromedp.Click(sel, chromedp.ByQuery)}
}

// eventually evaluates js until it is true, across page navigations.
func eventually(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var ok bool
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := chromedp.Run(sctx, chromedp.Evaluate(js, &ok))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within 30s", what)
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	var n int
	run(t, ctx, "count "+sel, chromedp.Evaluate(fmt.Sprintf("document.querySelectorAll(%q).length", sel), &n))
	return n
}

// api calls the JSON API as the admin and decodes the answer into out.
func api(t *testing.T, base, method, path, body string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// approvalSetup makes user ana, in group analysts, allowed role with
// approval required; it returns ana's token.
func approvalSetup(t *testing.T, base, role string) string {
	api(t, base, "POST", "/api/v1/users", `{"name":"ana"}`, nil)
	var tok struct{ Token string }
	api(t, base, "POST", "/api/v1/users/ana/tokens", "", &tok)
	api(t, base, "POST", "/api/v1/groups", `{"name":"analysts"}`, nil)
	api(t, base, "PUT", "/api/v1/groups/analysts/members/ana", "", nil)
	api(t, base, "PUT", "/api/v1/access/"+role+"/analysts", "", nil)
	api(t, base, "PUT", "/api/v1/approval-required/"+role, "", nil)
	return tok.Token
}

// memberConnect opens a connection as the member, as stile connect does,
// and reports "ok" once the server's greeting says it is connected.
func memberConnect(base, memberToken, role string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/connect?role="+role,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + memberToken}}})
	if err != nil {
		return err.Error()
	}
	defer ws.CloseNow()
	_, data, err := ws.Read(ctx)
	if err != nil {
		return err.Error()
	}
	var h proxy.Hello
	if err := json.Unmarshal(data, &h); err != nil {
		return err.Error()
	}
	if h.Error != "" || h.PID == 0 {
		return fmt.Sprintf("refused: %q (pid %d)", h.Error, h.PID)
	}
	return "ok"
}
