package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestConnectGreetingHidesInternalText: a connection refused by a fault
// (the store is gone) greets the client with "internal error (id …)" only;
// the fault's text is in the log under that id. A refusal for people (no
// such role) shows its words.
func TestConnectGreetingHidesInternalText(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	svc, err := service.New(ctx, service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: "right-token"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	srv := httptest.NewServer(New(svc, slog.New(slog.NewTextHandler(&logs, nil)), nil))
	t.Cleanup(srv.Close)

	greeting := func() proxy.Hello {
		t.Helper()
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/v1/connect?role=nope&database=app", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Bearer right-token"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var h proxy.Hello
		if err := json.Unmarshal(data, &h); err != nil {
			t.Fatal(err)
		}
		return h
	}

	if h := greeting(); h.Error == "" || strings.Contains(h.Error, "internal error") {
		t.Errorf("an unknown role's greeting: %q, want its words", h.Error)
	}
	st.Close()
	h := greeting()
	m := regexp.MustCompile(`^internal error \(id ([0-9a-f]{8})\)$`).FindStringSubmatch(h.Error)
	if m == nil {
		t.Fatalf("greeting with the store gone: %q, want only an id", h.Error)
	}
	if !strings.Contains(logs.String(), "error_id="+m[1]) {
		t.Errorf("the log lacks id %s:\n%s", m[1], logs.String())
	}
}
