package service

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// KindConnect is the session kind of a connection made through stile.
const KindConnect = store.KindConnect

// Connection is an upstream connection opened with a resource role's
// injected credentials, ready to be relayed.
type Connection struct {
	// Ctx ends when the connection must close (its user was disabled).
	Ctx      context.Context
	Upstream net.Conn
	Hello    proxy.Hello
	// Cancel cancels the query running upstream.
	Cancel func(ctx context.Context) error
	// KeyData is the made-up secret key of the BackendKeyData a listener
	// gives its client (the real one stays with stile).
	KeyData []byte
	// Mask masks the results when the role has masking rules.
	Mask       *mask.Filter
	sess       store.Session
	started    time.Time
	user       string
	tokenHash  string // of the personal token it was opened with
	cancelKeys []string
}

// Connect opens database as resource role name for p, and records a
// connect session. The password never leaves the server. p must be allowed
// the role; only the built-in agent reaches databases for connections so
// far.
func (s *Connections) Connect(ctx context.Context, p Principal, name, database string) (*Connection, error) {
	actor := p.User
	// Administrators use every role; a member needs a standing grant or
	// an open window, read once.
	var window time.Time
	if !p.Admin {
		v, err := s.view(ctx)
		if err != nil {
			return nil, err
		}
		if !v.mayConnect(p.User, name) {
			if v.eligible(p.User, name) {
				return nil, errs.New(errs.Forbidden, "%s may use %s only in an approved request's window, and has none open: stile access request %s --for 1h --reason …", p.User, name, name)
			}
			return nil, errs.New(errs.Forbidden, "%s may not use resource role %s", p.User, name)
		}
		window = v.window(p.User, name)
	}
	rr, err := s.resourceRole(ctx, name)
	if err != nil {
		return nil, err
	}
	// A connection in an approved window was approved already; others of
	// a role whose every connection needs approval wait for one.
	if !p.Admin && window.IsZero() {
		if need, err := s.store.ApprovalRequired(ctx, name); err != nil {
			return nil, err
		} else if need {
			if err := s.access.awaitApproval(ctx, p, name, cmp.Or(database, rr.Database)); err != nil {
				return nil, err
			}
		}
	}
	pw, err := s.rolePassword(ctx, rr)
	if err != nil {
		return nil, err
	}
	if database == "" {
		database = rr.Database
	}
	t := target.Target{Host: rr.Host, Port: rr.Port, SSLMode: rr.SSLMode, User: name, Password: pw}
	cfg, err := t.Config(database)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams = map[string]string{"application_name": "stile connect (" + actor + ")"}
	var policy guard.Policy
	var c0mask *mask.Filter
	if c0mask, policy, err = s.masking.connFilter(ctx, rr, database); err != nil {
		return nil, err
	}
	if policy.ReadOnly {
		// PostgreSQL itself refuses writes; the guardrails refuse undoing it.
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	in, _ := json.Marshal(map[string]string{"role": name, "database": database})
	c := &Connection{started: s.now(), sess: store.Session{
		SID: newSID(), Kind: KindConnect, Resource: rr.Resource, Role: name, Label: rr.Label, Actor: actor, Agent: rr.Agent,
		CreatedAt: s.now(), Replica: s.replica, Status: "running", Input: string(in),
	}}
	c.Mask = c0mask
	if rr.Agent != agent.LocalName {
		// The filter runs here, on the server, whichever agent carries the
		// connection; the agent names result columns for column rules and
		// sends the read-only setting. An agent older than that would
		// leave them out: it is asked to name a known column first.
		if c.Mask != nil && (c.Mask.NeedsColumns() || policy.ReadOnly) {
			if err := s.masking.probeColumns(ctx, rr, database); err != nil {
				return nil, errs.New(errs.Unavailable, "%s has column masking rules or is read-only, and agent %s cannot apply them (%v): upgrade the agent; stile refuses the connection rather than let it through unmasked", name, rr.Agent, err)
			}
		}
		return s.connectRemote(ctx, c, p, rr, t, database, cfg.RuntimeParams)
	}
	pc, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		err = target.Classify(err, name+"@"+rr.Host)
		c.sess.Status, c.sess.ExitCode, c.sess.Message, c.sess.FinishedAt = "failed", 1, errs.Public(s.log, err, "sid", c.sess.SID), s.now()
		if s.store.CreateSessions(ctx, c.sess) == nil {
			s.emit(c.sess)
		}
		return nil, err
	}
	if err := pc.SyncConn(ctx); err != nil {
		pc.Close(ctx)
		return nil, fmt.Errorf("settle the connection: %w", err)
	}
	hj, err := pc.Hijack()
	if err != nil {
		pc.Close(ctx)
		return nil, fmt.Errorf("take over the connection: %w", err)
	}
	c.Upstream = hj.Conn
	c.Hello = proxy.Hello{Parameters: hj.ParameterStatuses, PID: hj.PID}
	if c.Mask != nil {
		c.Hello.Parameters = c.Mask.Start(c.Hello.Parameters)
	}
	route := cancelRoute{Addr: net.JoinHostPort(rr.Host, strconv.Itoa(rr.Port)), PID: hj.PID, Key: hj.SecretKey}
	if err := s.routeCancels(ctx, c, p.User, route); err != nil {
		hj.Conn.Close()
		return nil, err
	}
	if err := s.store.CreateSessions(ctx, c.sess); err != nil {
		hj.Conn.Close()
		s.store.DeleteCancelRoutes(ctx, c.cancelKeys...)
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.Ctx, c.user, c.tokenHash = cctx, p.User, p.tokenHash
	s.conns.add(c, cancel)
	s.log.Info("connection opened", "role", name, "actor", actor, "database", database)
	return c, nil
}

// OpenUpstream is the server's PostgreSQL listener's sign-in: the password
// is an API token (Authenticate), the user a resource role the principal may
// use, and the connection to it is opened and recorded as Connect does. It
// is a proxy.Listener's Open.
func (s *Connections) OpenUpstream(ctx context.Context, user, password, database string) (*proxy.Upstream, error) {
	if peer := proxy.Peer(ctx); peer != "" {
		ctx = WithSource(ctx, peer, "pg")
	}
	p, err := s.signIn.Authenticate(ctx, password)
	if err != nil {
		return nil, fmt.Errorf("%w for user %q", proxy.ErrAuth, user)
	}
	c, err := s.Connect(ctx, p, user, database)
	if err != nil {
		return nil, err
	}
	return &proxy.Upstream{Ctx: c.Ctx, Conn: c.Upstream, Hello: c.Hello, Cancel: c.Cancel, KeyData: c.KeyData, Mask: c.Mask,
		Finish: func(st proxy.Stats) { s.Finish(ctx, c, st) }}, nil
}

// Finish records the end of a connection: how long, how many bytes, and
// the statements the client sent.
func (s *Connections) Finish(ctx context.Context, c *Connection, st proxy.Stats) {
	closed := s.conns.remove(c)
	s.metrics.Connection(c.sess.Role, st.BytesIn, st.BytesOut)
	if err := s.store.DeleteCancelRoutes(context.WithoutCancel(ctx), c.cancelKeys...); err != nil {
		s.log.Warn("forget cancel routes", "err", err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "duration: %s\nbytes_from_client: %d\nbytes_to_client: %d\nexecuted: %d\nstatements:\n", s.now().Sub(c.started).Round(time.Millisecond), st.BytesIn, st.BytesOut, st.Executed)
	for _, q := range st.Statements {
		fmt.Fprintf(&out, "  - %q\n", q)
	}
	out.WriteString(maskSummary(st.Masked, st.Blocked))
	if closed != "" {
		fmt.Fprintf(&out, "closed by stile: %s\n", closed)
		c.sess.Message = "closed by stile: " + closed
	}
	c.sess.Status, c.sess.Output, c.sess.FinishedAt = "ok", out.String(), s.now()
	u := store.Usage{Connections: 1, Seconds: int64(c.sess.FinishedAt.Sub(c.started).Round(time.Second) / time.Second),
		BytesIn: st.BytesIn, BytesOut: st.BytesOut, Statements: st.Executed}
	if err := s.store.FinishConnections(context.WithoutCancel(ctx), store.ConnectionUsage{Session: c.sess, Usage: u}); err != nil {
		s.log.Error("record connection", "err", err)
		return
	}
	s.emit(c.sess)
}

// connectRemote opens the connection through the resource's remote agent,
// which streams it back over a WebSocket of its own (to this replica).
func (s *Connections) connectRemote(ctx context.Context, c *Connection, p Principal, rr ResourceRole, t target.Target, database string, params map[string]string) (*Connection, error) {
	if s.hub == nil {
		return nil, errs.New(errs.Unavailable, "agent %s is offline", rr.Agent)
	}
	if _, err := s.agent(rr.Agent); err != nil {
		return nil, err
	}
	delete(params, "application_name") // the agent names itself
	conn, hello, stream, err := s.hub.OpenStream(ctx, rr.Agent, t, database, params)
	if err != nil {
		c.sess.Status, c.sess.ExitCode, c.sess.Message, c.sess.FinishedAt = "failed", 1, errs.Public(s.log, err, "sid", c.sess.SID), s.now()
		if s.store.CreateSessions(ctx, c.sess) == nil {
			s.emit(c.sess)
		}
		return nil, err
	}
	c.Upstream, c.Hello = conn, hello
	if c.Mask != nil {
		c.Hello.Parameters = c.Mask.Start(hello.Parameters)
	}
	if err := s.routeCancels(ctx, c, p.User, cancelRoute{Agent: rr.Agent, Stream: stream}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := s.store.CreateSessions(ctx, c.sess); err != nil {
		conn.Close()
		s.store.DeleteCancelRoutes(ctx, c.cancelKeys...)
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.Ctx, c.user, c.tokenHash = cctx, p.User, p.tokenHash
	s.conns.add(c, cancel)
	return c, nil
}
