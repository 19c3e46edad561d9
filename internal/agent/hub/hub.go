// Package hub is the server's side of remote agents: the hub they dial over
// a WebSocket (hub.go), the store's job queue that reaches an agent connected
// to another replica (queue.go), the Agent a remote agent is seen as
// (remote.go), and the streams of connections relayed through an agent
// (stream.go). The agent's side is agent/runner.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// Registry is the part of the store the hub needs.
type Registry interface {
	AgentByToken(ctx context.Context, tokenHash string) (store.Agent, error)
	Agents(ctx context.Context) ([]store.Agent, error)
	TouchAgent(ctx context.Context, name, version, replica string, at time.Time) error
	DisconnectAgent(ctx context.Context, name, replica string) error
	EnqueueJob(ctx context.Context, j store.Job) error
	ClaimJobs(ctx context.Context, agents []string, replica string, limit int) ([]store.Job, error)
	FinishJob(ctx context.Context, id, result, errJSON string) error
	Job(ctx context.Context, id string) (store.Job, error)
}

// Hub holds the WebSocket connections of remote agents that dialed this
// server and sends them jobs. With a shared store (several replicas), a job
// for an agent connected to another replica goes through the store's job
// queue: that replica claims it (FOR UPDATE SKIP LOCKED), runs it and writes
// the result back, so no routing lives in memory.
type Hub struct {
	reg     Registry
	box     *secret.Box
	shared  bool
	replica string
	log     *slog.Logger

	streams proxy.Rendezvous
	// streamURL is where agents connected to other replicas stream
	// connections opened here; empty if this replica advertises none.
	streamURL string

	mu    sync.Mutex
	conns map[string]*agentConn
	// waiters are the queued jobs this replica waits for, woken by
	// notifications; poll is how often both sides look without one.
	waiters map[string]chan struct{}
	poll    time.Duration
}

// New returns an empty hub. shared says other replicas use the same
// store; box seals queued job payloads (they carry admin credentials);
// replica names this server among them.
func New(reg Registry, box *secret.Box, shared bool, replica string, log *slog.Logger) *Hub {
	return &Hub{reg: reg, box: box, shared: shared, replica: replica, log: log, conns: map[string]*agentConn{}, waiters: map[string]chan struct{}{}, poll: 20 * time.Millisecond}
}

// onlineWindow is how recent a heartbeat must be for an agent connected to
// another replica to count as online.
const onlineWindow = 3 * agent.HeartbeatInterval

// agentConn is one connected agent.
type agentConn struct {
	name    string
	version string
	ws      *websocket.Conn
	wmu     sync.Mutex
	seq     atomic.Int64
	pmu     sync.Mutex
	pending map[string]chan agent.Message
	// progress holds the queues of running jobs that report progress.
	progress map[string]*progressQueue
	done     chan struct{}
}

// progressQueue hands a job's progress messages from the read loop to the
// caller waiting on the job, without ever blocking the read loop.
type progressQueue struct {
	mu    sync.Mutex
	items []json.RawMessage
	ready chan struct{}
}

func (q *progressQueue) push(p json.RawMessage) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *progressQueue) drain(f func(json.RawMessage)) {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	for _, p := range items {
		f(p)
	}
}

// Remote returns the agent named name as an Agent; it is Online while that
// agent is connected to this hub.
func (h *Hub) Remote(name string) agent.Agent { return &remote{hub: h, name: name} }

// Online reports whether name can take work: connected here, or (with a
// shared store) connected to a live replica.
func (h *Hub) Online(ctx context.Context, name string) bool {
	if ok, _ := h.Connected(name); ok || !h.shared {
		return ok
	}
	list, err := h.reg.Agents(ctx)
	if err != nil {
		return false
	}
	for _, a := range list {
		if a.Name == name {
			return a.Replica != "" && a.RevokedAt.IsZero() && time.Since(a.LastSeen) < onlineWindow
		}
	}
	return false
}

// Connected reports whether name is connected here, and its version.
func (h *Hub) Connected(name string) (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.conns[name]
	if c == nil {
		return false, ""
	}
	return true, c.version
}

// Close disconnects every agent (at shutdown): they reconnect, to this
// server when it is back or to another replica.
func (h *Hub) Close() {
	h.mu.Lock()
	conns := make([]*agentConn, 0, len(h.conns))
	for _, c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.ws.Close(websocket.StatusGoingAway, "server shutting down")
	}
}

// Disconnect closes a connected agent (after its token was revoked).
func (h *Hub) Disconnect(name string) {
	h.mu.Lock()
	c := h.conns[name]
	h.mu.Unlock()
	if c != nil {
		c.ws.Close(websocket.StatusPolicyViolation, "token revoked")
	}
}

// ServeHTTP accepts an agent's connection: Authorization: Bearer <agent
// token> (authenticated), then a WebSocket that stays open. A second
// connection of the same agent replaces the first.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.authenticated(h.serveAgent)(w, r)
}

// serveAgent holds the WebSocket of agent a.
func (h *Hub) serveAgent(w http.ResponseWriter, r *http.Request, a store.Agent) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 20)
	c := &agentConn{name: a.Name, version: r.Header.Get("X-Stile-Agent-Version"), ws: ws, pending: map[string]chan agent.Message{}, progress: map[string]*progressQueue{}, done: make(chan struct{})}
	// Record the connection in the store first: whatever sees the agent
	// online here must find it online from every replica too.
	if err := h.reg.TouchAgent(r.Context(), a.Name, c.version, h.replica, time.Now().UTC()); err != nil {
		ws.Close(websocket.StatusInternalError, "store unavailable")
		return
	}
	h.mu.Lock()
	old := h.conns[a.Name]
	h.conns[a.Name] = c
	h.mu.Unlock()
	if old != nil {
		old.ws.Close(websocket.StatusGoingAway, "replaced by a new connection")
	}
	h.log.Info("agent connected", "agent", a.Name, "version", c.version, "remote", r.RemoteAddr)
	h.readLoop(context.WithoutCancel(r.Context()), c)
	h.mu.Lock()
	last := h.conns[a.Name] == c
	if last {
		delete(h.conns, a.Name)
	}
	h.mu.Unlock()
	if last {
		h.reg.DisconnectAgent(context.WithoutCancel(r.Context()), a.Name, h.replica)
	}
	close(c.done)
	h.log.Info("agent disconnected", "agent", a.Name)
}

func (h *Hub) readLoop(ctx context.Context, c *agentConn) {
	for {
		var m agent.Message
		if err := wsjson.Read(ctx, c.ws, &m); err != nil {
			return
		}
		switch m.Type {
		case "heartbeat":
			h.reg.TouchAgent(ctx, c.name, c.version, h.replica, time.Now().UTC())
		case "progress":
			c.pmu.Lock()
			q := c.progress[m.ID]
			c.pmu.Unlock()
			if q != nil {
				q.push(m.Payload)
			}
		case "result":
			c.pmu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.pmu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// call sends a job to the named agent and waits for its result: directly
// when it is connected here, else through the store's queue.
func (h *Hub) call(ctx context.Context, name, kind string, payload, out any) error {
	return h.callWithProgress(ctx, name, kind, payload, out, nil)
}

// callWithProgress is call for a job that reports progress: onProgress, when
// set, gets each progress message in order, in the caller's goroutine. A job
// that goes through the store's queue reports none: its result carries
// everything.
func (h *Hub) callWithProgress(ctx context.Context, name, kind string, payload, out any, onProgress func(json.RawMessage)) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s job: %w", kind, err)
	}
	h.mu.Lock()
	c := h.conns[name]
	h.mu.Unlock()
	var m agent.Message
	switch {
	case c != nil:
		m, err = h.send(ctx, c, kind, body, onProgress)
	case h.shared:
		m, err = h.queue(ctx, name, kind, body)
	default:
		return errs.New(errs.Unavailable, "agent %s is offline", name)
	}
	if err != nil {
		return err
	}
	if m.Error != nil {
		return m.Error.Err()
	}
	if out != nil {
		if err := json.Unmarshal(m.Payload, out); err != nil {
			return fmt.Errorf("decode %s result: %w", kind, err)
		}
	}
	return nil
}

// send runs a job on an agent connected here.
func (h *Hub) send(ctx context.Context, c *agentConn, kind string, body []byte, onProgress func(json.RawMessage)) (agent.Message, error) {
	id := strconv.FormatInt(c.seq.Add(1), 10)
	ch := make(chan agent.Message, 1)
	q := &progressQueue{ready: make(chan struct{}, 1)}
	c.pmu.Lock()
	c.pending[id] = ch
	if onProgress != nil {
		c.progress[id] = q
	}
	c.pmu.Unlock()
	defer func() {
		c.pmu.Lock()
		delete(c.pending, id)
		delete(c.progress, id)
		c.pmu.Unlock()
	}()
	if onProgress == nil {
		onProgress = func(json.RawMessage) {}
	}
	c.wmu.Lock()
	err := wsjson.Write(ctx, c.ws, agent.Message{Type: "job", ID: id, Kind: kind, Payload: body})
	c.wmu.Unlock()
	if err != nil {
		return agent.Message{}, errs.New(errs.Unavailable, "agent %s: send job: %v", c.name, err)
	}
	for {
		select {
		case <-q.ready:
			q.drain(onProgress)
		case m := <-ch:
			// The agent sends a job's progress before its result, and the
			// read loop queues it in that order.
			q.drain(onProgress)
			return m, nil
		case <-c.done:
			q.drain(onProgress)
			return agent.Message{}, errs.New(errs.Unavailable, "agent %s went offline during the %s job", c.name, jobWords(kind))
		case <-ctx.Done():
			return agent.Message{}, timeout(ctx, c.name, kind)
		}
	}
}

func timeout(ctx context.Context, name, kind string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errs.New(errs.Failed, "agent %s: the %s job timed out", name, jobWords(kind))
	}
	return ctx.Err()
}

// jobWords names a job kind for people: "apply_batch" is an "apply batch".
func jobWords(kind string) string { return strings.ReplaceAll(kind, "_", " ") }
