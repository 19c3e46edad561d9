package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// brokenStore fails listing resources, once broken, with the text of a
// store fault that must never reach a browser.
type brokenStore struct {
	store.Store
	broken atomic.Bool
}

const storeFault = "sql: database is closed (/var/lib/stile/stile.db)"

func (s *brokenStore) Resources(ctx context.Context) ([]store.Resource, error) {
	if s.broken.Load() {
		return nil, errors.New(storeFault)
	}
	return s.Store.Resources(ctx)
}

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startOn runs the real server wiring on st, logging to log.
func startOn(t *testing.T, st store.Store, log *slog.Logger) string {
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, log, nil))
	t.Cleanup(srv.Close)
	return srv.URL
}

var errorID = regexp.MustCompile(`internal error \(id ([0-9a-f]{8})\)`)

// TestInternalErrorsShowOnlyAnID: a store fault answers a page with 500
// and "internal error (id …)", never the fault's text, which the log has
// under that id; a message shown in place hides it the same way, and the
// API answers the same request with the same status and message.
func TestInternalErrorsShowOnlyAnID(t *testing.T) {
	sq, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	st := &brokenStore{Store: sq}
	logs := &syncBuffer{}
	base := startOn(t, st, slog.New(slog.NewTextHandler(logs, nil)))
	c, csrf := signIn(t, base, token)
	st.broken.Store(true)

	check := func(what string, code int, body string, wantCode int) string {
		t.Helper()
		m := errorID.FindStringSubmatch(body)
		if code != wantCode || m == nil || strings.Contains(body, "database is closed") || strings.Contains(body, "/var/lib/stile") {
			t.Fatalf("%s: %d, want %d with an error id and no store text:\n%s", what, code, wantCode, body)
		}
		if log := logs.String(); !strings.Contains(log, "error_id="+m[1]) || !strings.Contains(log, storeFault) {
			t.Fatalf("%s: the log lacks id %s or the store's text:\n%s", what, m[1], log)
		}
		return m[1]
	}
	code, page := get(t, c, base+"/inventory")
	check("GET /inventory", code, page, http.StatusInternalServerError)
	if !strings.Contains(page, `id="error"`) || !strings.Contains(page, `id="whoami"`) {
		t.Errorf("the error page is not a page of the app:\n%s", page)
	}

	resp, err := c.PostForm(base+"/inventory/preview", url.Values{"csrf": {csrf}, "csv": {"name,type,host,port\nx,postgres,h,5432\n"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	check("POST /inventory/preview (shown in place)", resp.StatusCode, string(body), http.StatusOK)

	req, _ := http.NewRequest("GET", base+"/api/v1/resources", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	check("API GET /api/v1/resources", resp.StatusCode, string(body), http.StatusInternalServerError)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "internal" || !errorID.MatchString(e.Error.Message) {
		t.Errorf("API error body: %v %s", err, body)
	}

	// A store that is gone fails every page the same way, the sign-in
	// check included (it is not a reason to sign in again).
	sq.Close()
	seen := map[string]bool{}
	for _, path := range []string{"/inventory", "/roles", "/sessions/s1"} {
		code, page := get(t, c, base+path)
		if id := check("closed store: GET "+path, code, page, http.StatusInternalServerError); seen[id] {
			t.Errorf("error id %s shown twice", id)
		} else {
			seen[id] = true
		}
	}
}

// TestMissingThingsAre404: a session, role, resource, user or token that
// does not exist answers 404 with a page saying so, in HTML (escaped) or,
// for htmx, as a fragment.
func TestMissingThingsAre404(t *testing.T) {
	base := startStile(t)
	c, csrf := signIn(t, base, token)
	for _, path := range []string{"/sessions/nope", "/sessions/nope/download", "/roles/stile_nope", "/resources/nope", "/sessions/%3Cb%3Ex%3C%2Fb%3E"} {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page := string(body)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(page, `id="error"`) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: %d %s, want a 404 page:\n%s", path, resp.StatusCode, resp.Header.Get("Content-Type"), page)
		}
		if strings.Contains(page, "<b>x</b>") {
			t.Errorf("GET %s: the message is not escaped:\n%s", path, page)
		}
	}
	for _, path := range []string{"/people/users/nobody/disable", "/people/users/nobody/tokens", "/people/tokens/nope/revoke"} {
		resp, err := c.PostForm(base+path, url.Values{"csrf": {csrf}, "on": {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", base+"/sessions/nope", nil)
	req.Header.Set("HX-Request", "true")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(string(body), `<p class="err">`) || !strings.Contains(string(body), "nope") {
		t.Errorf("htmx GET /sessions/nope: %d %s", resp.StatusCode, body)
	}
}
