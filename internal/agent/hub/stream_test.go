package hub

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// tokens is a registry that knows agents by token; the hub's other needs
// are not reached by these tests.
type tokens struct {
	Registry
	byHash map[string]string
}

func (r tokens) AgentByToken(_ context.Context, hash string) (store.Agent, error) {
	name, ok := r.byHash[hash]
	if !ok {
		return store.Agent{}, errs.New(errs.NotFound, "no agent")
	}
	return store.Agent{Name: name}, nil
}

func streamHub(t *testing.T) (*Hub, *httptest.Server) {
	t.Helper()
	reg := tokens{byHash: map[string]string{secret.TokenHash("tok-a"): "a", secret.TokenHash("tok-b"): "b"}}
	h := New(reg, nil, false, "r1", slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(h.ServeStream))
	t.Cleanup(srv.Close)
	return h, srv
}

// wait registers a connection waiting for agent's stream, as OpenStream does.
func wait(t *testing.T, h *Hub, id, agent string) (func(context.Context, time.Duration) (net.Conn, proxy.Hello, error), func()) {
	w, done := h.streams.Expect(id, agent)
	t.Cleanup(done)
	return w, done
}

func dialStream(ctx context.Context, srv *httptest.Server, id, token string) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?id=" + id
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
}

// TestStreamOnlyFromTheAgentAsked: another agent's token, a bad token or an
// unknown id is refused and leaves the waiting connection alone.
func TestStreamOnlyFromTheAgentAsked(t *testing.T) {
	h, srv := streamHub(t)
	ctx := t.Context()
	w, _ := wait(t, h, "s1", "a")
	for _, c := range []struct {
		id, token string
		status    int
	}{
		{"s1", "tok-b", http.StatusNotFound},
		{"s1", "nope", http.StatusUnauthorized},
		{"s1", "", http.StatusUnauthorized},
		{"s2", "tok-a", http.StatusNotFound},
	} {
		_, resp, err := dialStream(ctx, srv, c.id, c.token)
		if err == nil || resp == nil || resp.StatusCode != c.status {
			t.Errorf("id %s token %q: err %v, want HTTP %d", c.id, c.token, err, c.status)
		}
	}
	// The refused streams left the waiting connection to the asked agent.
	ws, _, err := dialStream(ctx, srv, "s1", "tok-a")
	if err != nil {
		t.Fatalf("a refused stream took the waiting connection: %v", err)
	}
	defer ws.CloseNow()
	if err := proxy.SendHello(ctx, ws, proxy.Hello{PID: 7}); err != nil {
		t.Fatal(err)
	}
	conn, hello, err := w(ctx, 10*time.Second)
	if err != nil || hello.PID != 7 {
		t.Fatalf("the asked agent's stream: %+v %v", hello, err)
	}
	conn.Close()
	ws.CloseNow()
}

// TestStreamPairs: the asked agent's stream reaches the waiting connection,
// hello first, then bytes both ways.
func TestStreamPairs(t *testing.T) {
	h, srv := streamHub(t)
	ctx := t.Context()
	w, _ := wait(t, h, "s1", "a")
	ws, _, err := dialStream(ctx, srv, "s1", "tok-a")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := proxy.SendHello(ctx, ws, proxy.Hello{PID: 42}); err != nil {
		t.Fatal(err)
	}
	conn, hello, err := w(ctx, 10*time.Second)
	if err != nil {
		t.Fatalf("the stream never reached the waiting connection: %v", err)
	}
	defer conn.Close()
	if hello.PID != 42 {
		t.Fatalf("hello = %+v", hello)
	}
	if err := ws.Write(ctx, websocket.MessageBinary, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := conn.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("server read %q, %v", buf, err)
	}
	if _, err := conn.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := ws.Read(ctx); err != nil || string(data) != "pong" {
		t.Fatalf("agent read %q, %v", data, err)
	}
	ws.CloseNow() // first, so the server's close does not wait for a handshake
}

// TestLateStreamDropped: a stream arriving after the connection gave up is
// refused, not held open forever.
func TestLateStreamDropped(t *testing.T) {
	h, srv := streamHub(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, done := wait(t, h, "s1", "a")
	done()
	if _, resp, err := dialStream(ctx, srv, "s1", "tok-a"); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("late stream: %v, want HTTP 404", err)
	}
}

// TestAdvertise: a replica's advertised base URL becomes its stream
// endpoint; anything but http(s)://host[/prefix] is refused.
func TestAdvertise(t *testing.T) {
	h := New(tokens{}, nil, true, "r1", slog.New(slog.DiscardHandler))
	for base, want := range map[string]string{
		"https://b.internal:8009":      "wss://b.internal:8009/api/v1/agent/stream",
		"http://10.0.0.2:8009/":        "ws://10.0.0.2:8009/api/v1/agent/stream",
		"https://lb.example.com/stile": "wss://lb.example.com/stile/api/v1/agent/stream",
	} {
		if err := h.Advertise(base); err != nil || h.streamURL != want {
			t.Errorf("Advertise(%q): %q, %v; want %q", base, h.streamURL, err, want)
		}
	}
	for _, bad := range []string{"b.internal:8009", "ftp://b", "https://", "https://b/?x=1", "https://b/#f"} {
		if err := h.Advertise(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("Advertise(%q) = %v, want an invalid-input error", bad, err)
		}
	}
}
