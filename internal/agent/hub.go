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
	TouchAgent(ctx context.Context, name, version string, at time.Time) error
}

// Hub holds the WebSocket connections of remote agents that dialed this
// server, and sends them jobs. One server replica knows only the agents
// connected to it.
type Hub struct {
	reg Registry
	log *slog.Logger

	mu    sync.Mutex
	conns map[string]*agentConn
}

// NewHub returns an empty hub.
func NewHub(reg Registry, log *slog.Logger) *Hub {
	return &Hub{reg: reg, log: log, conns: map[string]*agentConn{}}
}

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
	h.reg.TouchAgent(r.Context(), a.Name, c.version, time.Now().UTC())
	h.readLoop(context.WithoutCancel(r.Context()), c)
	h.mu.Lock()
	if h.conns[a.Name] == c {
		delete(h.conns, a.Name)
	}
	h.mu.Unlock()
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
			h.reg.TouchAgent(ctx, c.name, c.version, time.Now().UTC())
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

// call sends a job to the named agent and waits for its result.
func (h *Hub) call(ctx context.Context, name, kind string, payload, out any) error {
	h.mu.Lock()
	c := h.conns[name]
	h.mu.Unlock()
	if c == nil {
		return errs.New(errs.Unavailable, "agent %s is offline", name)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode %s job: %w", kind, err)
	}
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
	err = wsjson.Write(ctx, c.ws, message{Type: "job", ID: id, Kind: kind, Payload: body})
	c.wmu.Unlock()
	if err != nil {
		return errs.New(errs.Unavailable, "agent %s: send job: %v", name, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return m.Error.err()
		}
		if out != nil {
			if err := json.Unmarshal(m.Payload, out); err != nil {
				return fmt.Errorf("decode %s result: %w", kind, err)
			}
		}
		return nil
	case <-c.done:
		return errs.New(errs.Unavailable, "agent %s went offline during the %s job", name, kind)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errs.New(errs.Failed, "agent %s: the %s job timed out", name, kind)
		}
		return ctx.Err()
	}
}

// remote is a connected (or not) remote agent seen as an Agent.
type remote struct {
	hub  *Hub
	name string
}

func (r *remote) Name() string { return r.name }

func (r *remote) Online() bool {
	ok, _ := r.hub.Connected(r.name)
	return ok
}

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
