package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

func newTestServer(t *testing.T) *httptest.Server {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: "right-token"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(svc, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestEveryRouteNeedsTheToken walks every API route without a token and with
// a wrong one: all answer 401 and do nothing.
func TestEveryRouteNeedsTheToken(t *testing.T) {
	srv := newTestServer(t)
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/openapi.yaml"}, {"GET", "/api/v1/agents"}, {"GET", "/api/v1/resources"},
		{"POST", "/api/v1/resources/import"}, {"PUT", "/api/v1/resources/x/admin"}, {"POST", "/api/v1/admins/import"},
		{"POST", "/api/v1/resources/x/health"}, {"POST", "/api/v1/plans"}, {"GET", "/api/v1/plans/x"},
		{"POST", "/api/v1/resources/x/apply"}, {"GET", "/api/v1/sessions"}, {"GET", "/api/v1/sessions/x"},
		{"POST", "/api/v1/agents"}, {"DELETE", "/api/v1/agents/x"},
		{"GET", "/api/v1/roles"}, {"GET", "/api/v1/roles/x"}, {"POST", "/api/v1/roles/x/reveal"}, {"POST", "/api/v1/roles/x/retire"},
		{"GET", "/api/v1/connect"}, {"GET", "/api/v1/users"}, {"POST", "/api/v1/users"}, {"POST", "/api/v1/users/x/disable"},
		{"POST", "/api/v1/users/x/tokens"}, {"DELETE", "/api/v1/tokens/x"}, {"GET", "/api/v1/groups"}, {"POST", "/api/v1/groups"},
		{"PUT", "/api/v1/groups/g/members/u"}, {"DELETE", "/api/v1/groups/g/members/u"}, {"GET", "/api/v1/access"},
		{"PUT", "/api/v1/access/r/g"}, {"DELETE", "/api/v1/access/r/g"},
		{"PUT", "/api/v1/approval-required/r"}, {"DELETE", "/api/v1/approval-required/r"}, {"GET", "/api/v1/approvals"}, {"POST", "/api/v1/approvals/x/approve"},
		{"POST", "/api/v1/connections/cancel"},
	}
	for _, r := range routes {
		for _, tok := range []string{"", "wrong-token", "right-token-but-longer"} {
			code, body := do(t, r.method, srv.URL+r.path, tok, `{}`)
			if code != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
				t.Errorf("%s %s with token %q: %d %s", r.method, r.path, tok, code, body)
			}
		}
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/resources", "right-token", ""); code != http.StatusOK {
		t.Errorf("with the right token: %d", code)
	}
}

func TestErrorsMapToStatuses(t *testing.T) {
	srv := newTestServer(t)
	for _, tt := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"POST", "/api/v1/resources/import", `{"csv": "x", "surprise": 1}`, 400, "unknown field"},
		{"POST", "/api/v1/resources/import", `{"csv": "name,type,host,port\na,mysql,h,1\n"}`, 400, `"action": "error"`},
		{"GET", "/api/v1/sessions/nope", "", 404, "not_found"},
		{"GET", "/api/v1/sessions?kind=bogus", "", 400, "is not one of health, plan, apply, drift, reveal, connect, approval, access"},
		{"POST", "/api/v1/resources/x/apply", `{}`, 400, "sid is required"},
		{"POST", "/api/v1/plans", `{"items": [{"resource_name": "nope", "role": "ro", "scopes": ["d"], "privileges": ["SELECT"]}]}`, 400, "not in the inventory"},
		{"POST", "/api/v1/connections/cancel", `{"cancel_token": "guess"}`, 404, "no such connection"},
	} {
		code, body := do(t, tt.method, srv.URL+tt.path, "right-token", tt.body)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s: %d %s, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.want)
		}
	}
}

// TestWriteErrorHidesInternalText: an error without a people-facing code
// answers 500 with only an id, in the usual JSON shape, detail kept; the
// log has the id and the text.
func TestWriteErrorHidesInternalText(t *testing.T) {
	var logs strings.Builder
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := httptest.NewRecorder()
	s.writeError(rec, httptest.NewRequest("GET", "/api/v1/resources", nil),
		withDetail(fmt.Errorf("list resources: %w", errors.New("sql: database is closed")), []string{"partial"}))
	var body struct {
		Error  struct{ Code, Message string }
		Detail []string
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^internal error \(id ([0-9a-f]{8})\)$`).FindStringSubmatch(body.Error.Message)
	if rec.Code != http.StatusInternalServerError || body.Error.Code != "internal" || m == nil || len(body.Detail) != 1 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "error_id="+m[1]) || !strings.Contains(logs.String(), "sql: database is closed") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestBatchRoutesRefuseBadRequestsWhole: a batch apply with no items or an
// item without sid, and a streamed plan whose item names no resource, are
// refused with an ordinary error answer before any line is streamed.
func TestBatchRoutesRefuseBadRequestsWhole(t *testing.T) {
	srv := newTestServer(t)
	for _, tt := range []struct{ path, body, want string }{
		{"/api/v1/applies", `{"items": []}`, "nothing to apply"},
		{"/api/v1/applies", `{"items": [{"resource_name": "db"}]}`, "item 0 has no sid"},
		{"/api/v1/plans", `{"items": [{"resource_name": "nope", "role": "ro", "scopes": ["app"], "privileges": ["SELECT"]}]}`, "not in the inventory"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer right-token")
		req.Header.Set("Accept", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body errorBody
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || err != nil || !strings.Contains(body.Error.Message, tt.want) {
			t.Errorf("POST %s %s: %d %+v (%v), want 400 saying %q", tt.path, tt.body, resp.StatusCode, body, err, tt.want)
		}
	}
}

// TestHealthzSaysTheVersion: /healthz answers without a token, with the
// server's version.
func TestHealthzSaysTheVersion(t *testing.T) {
	srv := newTestServer(t)
	code, body := do(t, "GET", srv.URL+"/healthz", "", "")
	if code != http.StatusOK || !strings.HasPrefix(body, "ok stile dev (commit ") {
		t.Fatalf("/healthz: %d %q", code, body)
	}
}
