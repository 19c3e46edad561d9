package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/hub"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestRouteTable walks every route of the table, with no PostgreSQL (a
// SQLite store): a stranger gets 401 (or, on a page, the sign-in) from every
// member and admin route, and a member gets 403 from every admin route,
// with the CSRF token of their own sign-in; both agent routes refuse every
// request but one with a live agent's token (no token, a wrong one, a
// person's, the admin's, a revoked agent's), the same way; the openapi.yaml
// document lists exactly the table's API routes.
func TestRouteTable(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	ctx := context.Background()
	svc, err := service.New(ctx, service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: "right-token"})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Access.CreateUser(ctx, service.Principal{User: "test", Admin: true}, "mia", false); err != nil {
		t.Fatal(err)
	}
	_, member, err := svc.Access.CreateToken(ctx, service.Principal{User: "test", Admin: true}, "mia")
	if err != nil {
		t.Fatal(err)
	}
	// Two agents: one live, one revoked.
	if err := st.CreateAgent(ctx, "live", secret.TokenHash("stla_live-token")); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAgent(ctx, "gone", secret.TokenHash("stla_gone-token")); err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeAgent(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	h := hub.New(st, box, false, "r1", slog.New(slog.DiscardHandler))
	s := New(svc, slog.New(slog.DiscardHandler), h)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	// mia signs in to the web app.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := browser.PostForm(srv.URL+"/login", url.Values{"token": {member}}); err != nil || resp.StatusCode >= 400 {
		t.Fatalf("member sign-in: %v %v", resp, err)
	}
	resp, err := browser.Get(srv.URL + "/roles")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(string(body))
	if m == nil {
		t.Fatalf("no CSRF token on the member's roles page:\n%s", body)
	}
	csrf := m[1]
	stranger := &http.Client{CheckRedirect: browser.CheckRedirect}

	fill := strings.NewReplacer("{$}", "", "{name}", "x", "{sid}", "x", "{id}", "x", "{group}", "g", "{user}", "u", "{role}", "r", "{decision}", "approve")
	send := func(c *http.Client, method, path, bearer string) *http.Response {
		t.Helper()
		form := url.Values{"csrf": {csrf}}
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp
	}
	refused := func(resp *http.Response, api bool) bool {
		if api {
			return resp.StatusCode == http.StatusUnauthorized
		}
		loc := resp.Header.Get("Location")
		return resp.StatusCode == http.StatusUnauthorized || (resp.StatusCode/100 == 3 && strings.HasPrefix(loc, "/login"))
	}
	var apiRoutes, agentRoutes []string
	for _, r := range s.Routes() {
		method, pattern, _ := strings.Cut(r.Pattern, " ")
		path := fill.Replace(pattern)
		if strings.HasSuffix(path, "/static/") {
			path += "style.css"
		}
		if r.API {
			apiRoutes = append(apiRoutes, strings.ToLower(method)+" "+pattern)
		}
		if strings.HasPrefix(pattern, "/api/v1/agent/") != (r.Level == Agent) {
			t.Errorf("%s: level %s", r.Pattern, r.Level)
		}
		if r.Level == Agent {
			agentRoutes = append(agentRoutes, r.Pattern)
			for _, tok := range []string{"", "wrong-token", member, "right-token", "stla_gone-token"} {
				resp := send(stranger, method, path, tok)
				body, _ := io.ReadAll(resp.Body)
				var e struct {
					Error struct{ Code, Message string }
				}
				if json.Unmarshal(body, &e); resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthorized" || e.Error.Message != "unknown or revoked agent token" {
					t.Errorf("%s with token %q: %d %s, want 401 and the API's unauthorized error", r.Pattern, tok, resp.StatusCode, body)
				}
			}
			if resp := send(stranger, method, path, "stla_live-token"); resp.StatusCode == http.StatusUnauthorized {
				t.Errorf("%s refused the live agent's token", r.Pattern)
			}
			continue
		}
		if r.Level == Public {
			continue
		}
		for _, tok := range []string{"", "wrong-token", "right-token-but-longer"} {
			if resp := send(stranger, method, path, tok); !refused(resp, r.API) {
				t.Errorf("%s (%s) as a stranger with token %q: %d %s", r.Pattern, r.Level, tok, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if r.Level != Admin {
			continue
		}
		client, bearer := browser, ""
		if r.API {
			client, bearer = stranger, member
		}
		if resp := send(client, method, path, bearer); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s (admin) as member mia: %d, want 403", r.Pattern, resp.StatusCode)
		}
	}

	if want := []string{"GET /api/v1/agent/connect", "GET /api/v1/agent/stream"}; !slices.Equal(agentRoutes, want) {
		t.Errorf("agent routes %v, want %v", agentRoutes, want)
	}

	// openapi.yaml lists exactly the table's API routes.
	data, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "delete", "patch":
				documented = append(documented, method+" "+path)
			}
		}
	}
	slices.Sort(apiRoutes)
	slices.Sort(documented)
	for _, r := range apiRoutes {
		if !slices.Contains(documented, r) {
			t.Errorf("openapi.yaml lacks %s", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(apiRoutes, d) {
			t.Errorf("openapi.yaml lists %s, which the route table does not serve", d)
		}
	}
}
