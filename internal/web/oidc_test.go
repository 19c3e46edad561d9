package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/oidctest"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestWebOIDC: in Chromium, a person signs in with the identity provider
// (a real one, oidctest) from stile's sign-in page, on the provider's own
// page, and lands in the web app as a user created just in time, in the
// provider's groups. When the provider takes a group away, the next
// sign-in removes it in stile and closes the connection it gave.
func TestWebOIDC(t *testing.T) {
	c := pgtest.First(t)
	ctx := browser(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_bi")
	bg := context.Background()

	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	idp := oidctest.Start(t, []oidctest.User{{ID: "u-ann", Username: "ann", Password: "ann-pw", Email: "ann@example.com", Groups: []string{"analysts"}}}, base+"/auth/oidc/callback")
	st, err := sqlite.Open(bg, filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(bg, service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: token,
		OIDC: &service.OIDCConfig{Issuer: idp.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret, RedirectURL: base + "/auth/oidc/callback",
			Name: "Test IdP", Scopes: []string{"profile", "email"}, AdminGroup: "dba"}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = server.New(svc, slog.New(slog.DiscardHandler), nil)
	srv.Start()
	t.Cleanup(srv.Close)

	signIn := func(step string) {
		t.Helper()
		run(t, ctx, step+": sign-in page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#signin-oidc", chromedp.ByID))
		run(t, ctx, step+": to the provider", chromedp.Click("#signin-oidc", chromedp.ByID), chromedp.WaitVisible("#username", chromedp.ByID))
		run(t, ctx, step+": sign in there", chromedp.SendKeys("#username", "ann", chromedp.ByID), chromedp.SendKeys("#password", "ann-pw", chromedp.ByID),
			chromedp.Submit("#password", chromedp.ByID), chromedp.WaitVisible("#whoami", chromedp.ByID))
	}
	run(t, ctx, "sign-in page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible("#signin-oidc", chromedp.ByID))
	if s := text(t, ctx, "#signin-oidc"); s != "Sign in with Test IdP" {
		t.Errorf("the provider's button says %q", s)
	}
	shot(t, ctx, "20-sign-in-oidc")
	signIn("first sign-in")
	if s := text(t, ctx, "#whoami"); s != "ann" {
		t.Fatalf("signed in as %q", s)
	}
	if count(t, ctx, `nav a[href="/inventory"]`) != 0 {
		t.Error("ann, not in the admin group, sees the administrators' pages")
	}
	var users struct {
		Users []struct{ Name, Source string }
	}
	api(t, base, "GET", "/api/v1/users", "", &users)
	if len(users.Users) != 1 || users.Users[0].Name != "ann" || users.Users[0].Source != "oidc" {
		t.Fatalf("users after the first sign-in: %+v", users.Users)
	}

	// A role analysts may use; ann connects through the listener with a
	// token an administrator made her.
	manageResource(t, svc, p, tg)
	role := applyRole(t, svc, spec.Role{Resource: p, Label: "bi", Scopes: []string{p + "_bi"}, Privileges: []string{"SELECT"}})
	if err := svc.Access.SetAccess(bg, service.Principal{User: "admin", Admin: true}, role, "analysts", true); err != nil {
		t.Fatal(err)
	}
	_, annToken, err := svc.Access.CreateToken(bg, service.Principal{User: "admin", Admin: true}, "ann")
	if err != nil {
		t.Fatal(err)
	}
	host, port := serveListener(t, svc)
	conn, err := pgx.Connect(bg, fmt.Sprintf("postgres://%s:%s@%s:%s/%s_bi?sslmode=disable", role, annToken, host, port, p))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, err := conn.Exec(bg, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	// The provider moves ann out of analysts: her next sign-in takes the
	// group away in stile and closes the connection it allowed.
	idp.SetGroups("u-ann")
	run(t, ctx, "sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitVisible("#token", chromedp.ByID))
	signIn("second sign-in")
	var groups struct{ Groups map[string][]string }
	api(t, base, "GET", "/api/v1/groups", "", &groups)
	if len(groups.Groups["analysts"]) != 0 {
		t.Errorf("analysts after the provider removed ann: %v", groups.Groups["analysts"])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := conn.Exec(bg, "SELECT 1"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ann's connection through analysts stayed open after the group was taken away")
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(t, ctx, "roles", chromedp.Navigate(base+"/roles"), chromedp.WaitVisible("#resource-roles-list", chromedp.ByID))
	if s := text(t, ctx, "#resource-roles-list"); strings.Contains(s, role) {
		t.Errorf("ann still sees %s:\n%s", role, s)
	}
}
