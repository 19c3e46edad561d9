package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// TokenHash is how agent tokens are stored: hex SHA-256.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

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

	mu    sync.Mutex
	conns map[string]*agentConn
	// waiters are the queued jobs this replica waits for, woken by
	// notifications; poll is how often both sides look without one.
	waiters map[string]chan struct{}
	poll    time.Duration
}

func (h *Hub) wait(id string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.waiters[id] = ch
	h.mu.Unlock()
	return ch
}

func (h *Hub) unwait(id string) {
	h.mu.Lock()
	delete(h.waiters, id)
	h.mu.Unlock()
}

func (h *Hub) wake(id string) {
	h.mu.Lock()
	ch := h.waiters[id]
	h.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// NewHub returns an empty hub. shared says other replicas use the same
// store; box seals queued job payloads (they carry admin credentials);
// replica names this server among them.
func NewHub(reg Registry, box *secret.Box, shared bool, replica string, log *slog.Logger) *Hub {
	return &Hub{reg: reg, box: box, shared: shared, replica: replica, log: log, conns: map[string]*agentConn{}, waiters: map[string]chan struct{}{}, poll: 20 * time.Millisecond}
}

// onlineWindow is how recent a heartbeat must be for an agent connected to
// another replica to count as online.
const onlineWindow = 3 * HeartbeatInterval

// agentConn is one connected agent.
type agentConn struct {
	name    string
	version string
	ws      *websocket.Conn
	wmu     sync.Mutex
	seq     atomic.Int64
	pmu     sync.Mutex
	pending map[string]chan message
	done    chan struct{}
}

// Remote returns the agent named name as an Agent; it is Online while that
// agent is connected to this hub.
func (h *Hub) Remote(name string) Agent { return &remote{hub: h, name: name} }

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
// token>, then a WebSocket that stays open. A second connection of the same
// agent replaces the first.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a, err := h.reg.AgentByToken(r.Context(), TokenHash(strings.TrimSpace(tok)))
	if err != nil || tok == "" {
		http.Error(w, `{"error":{"code":"unauthorized","message":"unknown or revoked agent token"}}`, http.StatusUnauthorized)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(64 << 20)
	c := &agentConn{name: a.Name, version: r.Header.Get("X-Stile-Agent-Version"), ws: ws, pending: map[string]chan message{}, done: make(chan struct{})}
	h.mu.Lock()
	old := h.conns[a.Name]
	h.conns[a.Name] = c
	h.mu.Unlock()
	if old != nil {
		old.ws.Close(websocket.StatusGoingAway, "replaced by a new connection")
	}
	h.log.Info("agent connected", "agent", a.Name, "version", c.version, "remote", r.RemoteAddr)
	h.reg.TouchAgent(r.Context(), a.Name, c.version, h.replica, time.Now().UTC())
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
		var m message
		if err := wsjson.Read(ctx, c.ws, &m); err != nil {
			return
		}
		switch m.Type {
		case "heartbeat":
			h.reg.TouchAgent(ctx, c.name, c.version, h.replica, time.Now().UTC())
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
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s job: %w", kind, err)
	}
	h.mu.Lock()
	c := h.conns[name]
	h.mu.Unlock()
	var m message
	switch {
	case c != nil:
		m, err = h.send(ctx, c, kind, body)
	case h.shared:
		m, err = h.queue(ctx, name, kind, body)
	default:
		return errs.New(errs.Unavailable, "agent %s is offline", name)
	}
	if err != nil {
		return err
	}
	if m.Error != nil {
		return m.Error.err()
	}
	if out != nil {
		if err := json.Unmarshal(m.Payload, out); err != nil {
			return fmt.Errorf("decode %s result: %w", kind, err)
		}
	}
	return nil
}

// send runs a job on an agent connected here.
func (h *Hub) send(ctx context.Context, c *agentConn, kind string, body []byte) (message, error) {
	id := strconv.FormatInt(c.seq.Add(1), 10)
	ch := make(chan message, 1)
	c.pmu.Lock()
	c.pending[id] = ch
	c.pmu.Unlock()
	defer func() {
		c.pmu.Lock()
		delete(c.pending, id)
		c.pmu.Unlock()
	}()
	c.wmu.Lock()
	err := wsjson.Write(ctx, c.ws, message{Type: "job", ID: id, Kind: kind, Payload: body})
	c.wmu.Unlock()
	if err != nil {
		return message{}, errs.New(errs.Unavailable, "agent %s: send job: %v", c.name, err)
	}
	select {
	case m := <-ch:
		return m, nil
	case <-c.done:
		return message{}, errs.New(errs.Unavailable, "agent %s went offline during the %s job", c.name, kind)
	case <-ctx.Done():
		return message{}, timeout(ctx, c.name, kind)
	}
}

func timeout(ctx context.Context, name, kind string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errs.New(errs.Failed, "agent %s: the %s job timed out", name, kind)
	}
	return ctx.Err()
}

// queue puts a job in the store for the replica the agent is connected to,
// and waits for its result.
func (h *Hub) queue(ctx context.Context, name, kind string, body []byte) (message, error) {
	if !h.Online(ctx, name) {
		return message{}, errs.New(errs.Unavailable, "agent %s is offline", name)
	}
	id := secret.NewToken()[:32]
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Hour)
	}
	j := store.Job{ID: id, Agent: name, Kind: kind, Payload: h.box.Seal(string(body), "job:"+id), CreatedAt: time.Now().UTC(), Deadline: deadline.UTC()}
	done := h.wait(id)
	defer h.unwait(id)
	if err := h.reg.EnqueueJob(ctx, j); err != nil {
		return message{}, err
	}
	h.mu.Lock()
	poll := h.poll
	h.mu.Unlock()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return message{}, timeout(ctx, name, kind)
		case <-done:
		case <-tick.C:
		}
		got, err := h.reg.Job(context.WithoutCancel(ctx), id)
		if err != nil {
			return message{}, err
		}
		if got.Status != "done" {
			continue
		}
		m := message{Type: "result", ID: id, Payload: json.RawMessage(got.Result)}
		if got.Error != "" {
			var we wireError
			json.Unmarshal([]byte(got.Error), &we)
			m.Error = &we
		}
		if got.Result == "" {
			m.Payload = nil
		}
		return m, nil
	}
}

// Run claims, until ctx ends, the queued jobs of the agents connected to
// this replica and runs them (only with a shared store). A store that can
// notify (PostgreSQL LISTEN/NOTIFY) wakes it when a job is queued and wakes
// waiters when a job is done; a slow poll backs that up.
func (h *Hub) Run(ctx context.Context) {
	if !h.shared {
		return
	}
	var queued <-chan string
	if n, ok := h.reg.(store.Notifier); ok {
		if ch, err := n.Listen(ctx, "stile_jobs"); err == nil {
			queued = ch
		}
		if ch, err := n.Listen(ctx, "stile_job_done"); err == nil {
			go func() {
				for id := range ch {
					h.wake(id)
				}
			}()
		}
	}
	h.mu.Lock()
	if queued != nil {
		h.poll = time.Second
	}
	poll := h.poll
	h.mu.Unlock()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-queued:
		}
		h.mu.Lock()
		names := make([]string, 0, len(h.conns))
		for n := range h.conns {
			names = append(names, n)
		}
		h.mu.Unlock()
		jobs, err := h.reg.ClaimJobs(ctx, names, h.replica, 16)
		if err != nil {
			h.log.Warn("claim jobs", "err", err)
			continue
		}
		for _, j := range jobs {
			go h.runQueued(ctx, j)
		}
	}
}

func (h *Hub) runQueued(ctx context.Context, j store.Job) {
	finish := func(m message, err error) {
		var result, errJSON string
		if err == nil && m.Error != nil {
			err = m.Error.err()
		}
		if err != nil {
			b, _ := json.Marshal(toWire(err))
			errJSON = string(b)
		}
		if len(m.Payload) > 0 {
			result = string(m.Payload)
		}
		if ferr := h.reg.FinishJob(context.WithoutCancel(ctx), j.ID, result, errJSON); ferr != nil {
			h.log.Error("finish job", "job", j.ID, "err", ferr)
		}
	}
	if time.Now().After(j.Deadline) {
		finish(message{}, errs.New(errs.Failed, "agent %s: the %s job timed out in the queue", j.Agent, j.Kind))
		return
	}
	body, err := h.box.Open(j.Payload, "job:"+j.ID)
	if err != nil {
		finish(message{}, fmt.Errorf("open job payload: %w", err))
		return
	}
	h.mu.Lock()
	c := h.conns[j.Agent]
	h.mu.Unlock()
	if c == nil {
		finish(message{}, errs.New(errs.Unavailable, "agent %s went offline", j.Agent))
		return
	}
	jctx, cancel := context.WithDeadline(ctx, j.Deadline)
	defer cancel()
	finish(h.send(jctx, c, j.Kind, []byte(body)))
}

// remote is a connected (or not) remote agent seen as an Agent.
type remote struct {
	hub  *Hub
	name string
}

func (r *remote) Name() string { return r.name }

func (r *remote) Online() bool { return r.hub.Online(context.Background(), r.name) }

func (r *remote) Health(ctx context.Context, t target.Target) (apply.Health, error) {
	var res healthResult
	if err := r.hub.call(ctx, r.name, JobHealth, t, &res); err != nil {
		return apply.Health{Status: "error", Error: err.Error()}, err
	}
	return res.Health, res.Err.err()
}

func (r *remote) Plan(ctx context.Context, t target.Target, inputs []plan.Input) ([]plan.Result, error) {
	var out []plan.Result
	err := r.hub.call(ctx, r.name, JobPlan, planJob{Target: t, Inputs: inputs}, &out)
	return out, err
}

func (r *remote) Apply(ctx context.Context, job apply.Job) apply.Report {
	var rep apply.Report
	if err := r.hub.call(ctx, r.name, JobApply, job, &rep); err != nil {
		// What is known: the agent went away or the job timed out. The
		// password outcome is unknown; the service settles it by login.
		return apply.Report{Outcome: apply.Failed, Message: err.Error(), Output: rep.Output + "-- " + err.Error() + "\n", Password: apply.PasswordUnknown}
	}
	return rep
}

func (r *remote) CheckLogin(ctx context.Context, t target.Target, role, password string) (bool, error) {
	var ok bool
	err := r.hub.call(ctx, r.name, JobCheckLogin, loginJob{Target: t, Role: role, Password: password}, &ok)
	return ok, err
}

func (r *remote) Scopes(ctx context.Context, t target.Target) ([]apply.ScopeDatabase, error) {
	var out []apply.ScopeDatabase
	err := r.hub.call(ctx, r.name, JobScopes, t, &out)
	return out, err
}

// Job payloads.
type (
	planJob struct {
		Target target.Target `json:"target"`
		Inputs []plan.Input  `json:"inputs"`
	}
	loginJob struct {
		Target   target.Target `json:"target"`
		Role     string        `json:"role"`
		Password string        `json:"password"`
	}
	// healthResult keeps the partial Health that goes with a failed check.
	healthResult struct {
		Health apply.Health `json:"health"`
		Err    *wireError   `json:"err,omitempty"`
	}
)
