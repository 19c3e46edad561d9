package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestSignInAndCSRF: pages need a session; the session cookie is HttpOnly
// and SameSite=Strict; a POST without the session's CSRF token is refused
// and changes nothing; sign-out ends the session.
func TestSignInAndCSRF(t *testing.T) {
	base := startStile(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, err := c.Get(base + "/inventory")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// To the sign-in page, which returns there afterwards.
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Finventory" {
		t.Fatalf("unauthenticated /inventory: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = c.PostForm(base+"/login", url.Values{"token": {"wrong"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}
	resp, _ = c.PostForm(base+"/login", url.Values{"token": {token}})
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Fatalf("sign in: %d, cookie %q", resp.StatusCode, cookie)
	}
	resp, _ = c.Get(base + "/inventory")
	var page strings.Builder
	buf := make([]byte, 1<<16)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page.String())
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("inventory after sign in: %d", resp.StatusCode)
	}
	csv := "name,type,host,port\nx,postgres,h,5432\n"
	for _, tok := range []string{"", "0000"} {
		resp, _ = c.PostForm(base+"/inventory/import", url.Values{"csv": {csv}, "csrf": {tok}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("import with CSRF token %q: %d, want 403", tok, resp.StatusCode)
		}
	}
	resp, _ = c.Get(base + "/inventory")
	page.Reset()
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if strings.Contains(page.String(), ">x<") {
		t.Fatal("a POST without a CSRF token changed the inventory")
	}
	resp, _ = c.PostForm(base+"/logout", url.Values{"csrf": {m[1]}})
	resp.Body.Close()
	resp, _ = c.Get(base + "/inventory")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", resp.StatusCode)
	}
}

// TestSignInWorksOnEveryReplica: two servers on one store; a browser
// signed in on one is signed in on the other, and signing out on the
// other ends it everywhere.
func TestSignInWorksOnEveryReplica(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	replica := func() string {
		box, _ := secret.NewBox(make([]byte, secret.KeySize))
		svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: token})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(server.New(svc, slog.New(slog.DiscardHandler), nil))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	a, b := replica(), replica()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ := c.PostForm(a+"/login", url.Values{"token": {token}})
	resp.Body.Close()
	resp, _ = c.Get(b + "/inventory")
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("replica B with A's sign-in: %d", resp.StatusCode)
	}
}

// TestMemberSignIn: a member signs in with their personal token and sees
// only the roles pages; every administrators' page and action answers 403
// and changes nothing; revoking the token or disabling the user ends the
// browser's session.
func TestMemberSignIn(t *testing.T) {
	base := startStile(t)
	api(t, base, "POST", "/api/v1/users", `{"name":"mia"}`, nil)
	var tok struct{ ID, Token string }
	api(t, base, "POST", "/api/v1/users/mia/tokens", "", &tok)

	c, csrf := signIn(t, base, tok.Token)
	resp, _ := c.Get(base + "/")
	resp.Body.Close()
	if resp.Header.Get("Location") != "/roles" {
		t.Fatalf("a member's home: %d %s, want /roles", resp.StatusCode, resp.Header.Get("Location"))
	}
	code, page := get(t, c, base+"/roles")
	if code != http.StatusOK || !strings.Contains(page, `id="whoami">mia<`) || strings.Contains(page, `href="/inventory"`) {
		t.Fatalf("a member's roles page: %d\n%s", code, page)
	}
	if code, _ := get(t, c, base+"/roles/stile_db_x_12345678"); code != http.StatusNotFound {
		t.Fatalf("a role the member may not use: %d, want 404", code)
	}
	for _, path := range []string{"/inventory", "/manage", "/provision", "/approvals", "/people", "/sessions", "/sessions/s1",
		"/sessions/s1/download", "/resources/db", "/resources/db/wizard"} {
		if code, page := get(t, c, base+path); code != http.StatusForbidden || !strings.Contains(page, `id="forbidden"`) {
			t.Errorf("member GET %s: %d, want 403", path, code)
		}
	}
	csv := "name,type,host,port\nx,postgres,h,5432\n"
	for _, path := range []string{"/inventory/preview", "/inventory/import", "/inventory/remove", "/manage/admin", "/manage/import",
		"/manage/bulk", "/provision/preview", "/provision/plan", "/provision/apply", "/provision/apply-all", "/resources/db/replan",
		"/resources/db/wizard", "/roles/r/access", "/roles/r/approval", "/roles/r/reveal", "/roles/r/retire", "/approvals/a1/approve",
		"/people/users", "/people/users/mia/disable", "/people/users/mia/tokens", "/people/tokens/t1/revoke", "/people/groups",
		"/people/groups/g/members"} {
		resp, err := c.PostForm(base+path, url.Values{"csrf": {csrf}, "csv": {csv}, "name": {"x"}, "group": {"g"}, "on": {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("member POST %s: %d, want 403", path, resp.StatusCode)
		}
	}
	var inv struct{ Resources []json.RawMessage }
	api(t, base, "GET", "/api/v1/resources", "", &inv)
	var toks struct{ Tokens []json.RawMessage }
	api(t, base, "GET", "/api/v1/users/mia/tokens", "", &toks)
	var users struct{ Users []json.RawMessage }
	api(t, base, "GET", "/api/v1/users", "", &users)
	if len(inv.Resources) != 0 || len(toks.Tokens) != 1 || len(users.Users) != 1 {
		t.Fatalf("a member's POSTs changed something: %d resources, %d tokens, %d users", len(inv.Resources), len(toks.Tokens), len(users.Users))
	}

	// Revoking the token signs the browser out; so does disabling the user.
	api(t, base, "DELETE", "/api/v1/tokens/"+tok.ID, "", nil)
	if code, _ := get(t, c, base+"/roles"); code != http.StatusSeeOther {
		t.Fatalf("after the token was revoked: %d, want a redirect to sign in", code)
	}
	api(t, base, "POST", "/api/v1/users/mia/tokens", "", &tok)
	c, _ = signIn(t, base, tok.Token)
	api(t, base, "POST", "/api/v1/users/mia/disable", "", nil)
	if code, _ := get(t, c, base+"/roles"); code != http.StatusSeeOther {
		t.Fatalf("after the user was disabled: %d, want a redirect to sign in", code)
	}
	resp, _ = c.PostForm(base+"/login", url.Values{"token": {tok.Token}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a disabled user's sign-in: %d, want 401", resp.StatusCode)
	}
}

// signIn signs a new browser in with token and returns it (not following
// redirects) and its CSRF token.
func signIn(t *testing.T, base, token string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	_, page := get(t, c, base+"/roles")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the roles page:\n%s", page)
	}
	return c, m[1]
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
