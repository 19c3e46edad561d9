package web_test

import (
	"context"
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
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
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
		svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{agent.Local{}}, RolePrefix: "stile"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(server.New(svc, token, slog.New(slog.DiscardHandler), nil))
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
