package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/target"
)

// openStream runs on the agent: connect upstream with the injected
// credentials, dial the server's stream endpoint, send the hello, and relay
// bytes until either side ends. The job answers once the stream is up.
func openStream(ctx context.Context, wsURL, token string, hc *http.Client, live *liveStreams, m agent.Message, log *slog.Logger) (any, error) {
	var j agent.ConnectJob
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

// cancelStream runs on the agent.
func cancelStream(ctx context.Context, live *liveStreams, m agent.Message) (any, error) {
	var j agent.CancelJob
	if err := json.Unmarshal(m.Payload, &j); err != nil {
		return nil, err
	}
	f, ok := live.m.Load(j.Stream)
	if !ok {
		return nil, errs.New(errs.NotFound, "no such connection on this agent")
	}
	return "ok", f.(func(context.Context) error)(ctx)
}
