package hub

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// OpenStream asks agent name to connect to database as t's user and to
// stream the connection back to this server; it returns the stream, the
// server's startup parameters, and the stream's id, which CancelStream
// takes. An agent connected to another replica streams to this one's
// advertised URL (see Advertise).
//
// params are startup parameters the agent sends (default_transaction_read_only).
func (h *Hub) OpenStream(ctx context.Context, name string, t target.Target, database string, params map[string]string) (conn net.Conn, hello proxy.Hello, stream string, err error) {
	job := agent.ConnectJob{Target: t, Database: database, Params: params}
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
	if err := h.call(ctx, name, agent.JobConnect, job, nil); err != nil {
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
	return h.call(ctx, name, agent.JobCancel, agent.CancelJob{Stream: stream}, nil)
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
// for (the agent authenticated as on ServeHTTP), and holds it until the
// relay ends.
func (h *Hub) ServeStream(w http.ResponseWriter, r *http.Request) {
	h.authenticated(func(w http.ResponseWriter, r *http.Request, a store.Agent) {
		h.streams.Accept(w, r, r.URL.Query().Get("id"), a.Name, streamHelloTimeout)
	})(w, r)
}

// streamHelloTimeout bounds the wait for an agent's stream, and for its
// first frame once it is up.
const streamHelloTimeout = 15 * time.Second
