package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/target"
)

// connectJob asks an agent to open a database connection as a resource
// role and stream it back on a WebSocket of its own.
type connectJob struct {
	Stream   string        `json:"stream"`
	Target   target.Target `json:"target"`
	Database string        `json:"database"`
	// Params are startup parameters to send (default_transaction_read_only
	// for a read-only role), besides application_name.
	Params map[string]string `json:"params,omitempty"`
	// StreamURL is where to stream it when that is not the server the
	// agent is connected to: the advertised URL of the replica that waits.
	StreamURL string `json:"stream_url,omitempty"`
}

// openStream runs on the agent: connect upstream with the injected
// credentials, dial the server's stream endpoint, send the hello, and relay
// bytes until either side ends. The job answers once the stream is up.
func openStream(ctx context.Context, wsURL, token string, hc *http.Client, live *liveStreams, m message, log *slog.Logger) (any, error) {
	var j connectJob
	if err := json.Unmarshal(m.Payload, &j); err != nil {
		return nil, err
	}
	cfg, err := j.Target.Config(j.Database)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams = map[string]string{"application_name": "stile connect"}
	for k, v := range j.Params {
		cfg.RuntimeParams[k] = v
	}
	pc, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		return nil, target.Classify(err, j.Target.User+"@"+j.Target.Host)
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(ctx)
		return nil, err
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, err
	}
	streamURL, err := streamEndpoint(wsURL, j.StreamURL)
	if err != nil {
		hj.Conn.Close()
		return nil, err
	}
	streamURL += "?id=" + url.QueryEscape(j.Stream)
	ws, _, err := websocket.Dial(ctx, streamURL, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		hj.Conn.Close()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	if err := proxy.SendHello(ctx, ws, proxy.Hello{Parameters: hj.ParameterStatuses, PID: hj.PID}); err != nil {
		hj.Conn.Close()
		ws.CloseNow()
		return nil, err
	}
	addr := net.JoinHostPort(j.Target.Host, strconv.Itoa(j.Target.Port))
	pid, key := hj.PID, hj.SecretKey
	live.m.Store(j.Stream, func(ctx context.Context) error { return proxy.SendCancel(ctx, addr, pid, key) })
	go func() {
		defer live.m.Delete(j.Stream)
		proxy.Relay(ctx, ws, hj.Conn, nil)
		log.Info("connection stream closed", "database", j.Database)
	}()
	return "ok", nil
}

// streamEndpoint is where an agent connected at wsURL streams a connection:
// the same server, or the replica the job names. The agent's token goes
// there too, so a wss:// agent never streams over plain ws://.
func streamEndpoint(wsURL, advertised string) (string, error) {
	if advertised == "" {
		return strings.TrimSuffix(wsURL, "/connect") + "/stream", nil
	}
	u, err := url.Parse(advertised)
	if err != nil || u.Host == "" || (u.Scheme != "ws" && u.Scheme != "wss") || u.RawQuery != "" {
		return "", fmt.Errorf("the server asked for a stream to %q, which is not a ws:// or wss:// URL", advertised)
	}
	if strings.HasPrefix(wsURL, "wss://") && u.Scheme != "wss" {
		return "", fmt.Errorf("the server asked for a stream to %s over plain ws://, but this agent connects with TLS", u.Host)
	}
	return advertised, nil
}

// liveStreams maps an agent's open streams to the function that cancels the
// query running on each (their PostgreSQL cancel keys stay here). One lives
// as long as the agent (Dial), across its reconnections: a stream outlives
// the session that opened it.
type liveStreams struct{ m sync.Map }

// cancelJob asks an agent to cancel the query running on one of its streams.
type cancelJob struct {
	Stream string `json:"stream"`
}

// cancelStream runs on the agent.
func cancelStream(ctx context.Context, live *liveStreams, m message) (any, error) {
	var j cancelJob
	if err := json.Unmarshal(m.Payload, &j); err != nil {
		return nil, err
	}
	f, ok := live.m.Load(j.Stream)
	if !ok {
		return nil, errs.New(errs.NotFound, "no such connection on this agent")
	}
	return "ok", f.(func(context.Context) error)(ctx)
}

// OpenStream asks agent name to connect to database as t's user and to
// stream the connection back to this server; it returns the stream, the
// server's startup parameters, and the stream's id, which CancelStream
// takes. An agent connected to another replica streams to this one's
// advertised URL (see Advertise).
//
// params are startup parameters the agent sends (default_transaction_read_only).
func (h *Hub) OpenStream(ctx context.Context, name string, t target.Target, database string, params map[string]string) (conn net.Conn, hello proxy.Hello, stream string, err error) {
	job := connectJob{Target: t, Database: database, Params: params}
	if here, _ := h.Connected(name); !here {
		// The agent would dial its stream to the address it knows, which may
		// be another replica behind the load balancer: it needs this
		// replica's own address, or the connection is refused now rather
		// than after the agent connected upstream.
		if h.streamURL == "" {
			return nil, proxy.Hello{}, "", errs.New(errs.Unavailable, "agent %s is connected to another replica and this one (%s) has no --advertise-url for the agent to stream the connection to", name, h.replica)
		}
		job.StreamURL = h.streamURL
	}
	id := secret.NewToken()
	wait, done := h.streams.Expect(id, name)
	defer done()
	job.Stream = id
	if err := h.call(ctx, name, JobConnect, job, nil); err != nil {
		return nil, proxy.Hello{}, "", err
	}
	conn, hello, err = wait(ctx, streamHelloTimeout)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return nil, proxy.Hello{}, "", errs.New(errs.Unavailable, "agent %s opened the connection but its stream never reached this server", name)
	case err != nil:
		return nil, proxy.Hello{}, "", err
	}
	return conn, hello, id, nil
}

// CancelStream asks agent name to cancel the query running on one of its
// streams; it works from any replica.
func (h *Hub) CancelStream(ctx context.Context, name, stream string) error {
	return h.call(ctx, name, JobCancel, cancelJob{Stream: stream}, nil)
}

// Advertise sets this replica's own base URL as agents reach it
// (http:// or https://, perhaps with a path prefix), so an agent connected to
// another replica can stream connections opened here.
func (h *Hub) Advertise(base string) error {
	u, err := StreamURL(base)
	if err != nil {
		return err
	}
	h.streamURL = u
	return nil
}

// StreamURL is where agents stream connections to the replica advertised
// at base, an http(s)://host[:port][/prefix] URL; anything else is
// errs.Invalid.
func StreamURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || u.Fragment != "" {
		return "", errs.Invalidf("advertise URL %q must be http(s)://host[:port][/prefix]", base)
	}
	u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/agent/stream"
	return u.String(), nil
}

// ServeStream accepts an agent's stream for a connection this server waits
// for, and holds it until the relay ends.
func (h *Hub) ServeStream(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	a, err := h.reg.AgentByToken(r.Context(), secret.TokenHash(tok))
	if err != nil || tok == "" {
		http.Error(w, "unknown or revoked agent token", http.StatusUnauthorized)
		return
	}
	h.streams.Accept(w, r, r.URL.Query().Get("id"), a.Name, streamHelloTimeout)
}

// streamHelloTimeout bounds the wait for an agent's stream, and for its
// first frame once it is up.
const streamHelloTimeout = 15 * time.Second
