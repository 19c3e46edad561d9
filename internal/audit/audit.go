// Package audit exports sessions as they finish: appended to a JSON-lines
// file and/or posted to an HTTPS webhook, HMAC-signed and retried with
// backoff. Export never blocks the work: a full queue drops the event and
// says so in the log (the session itself is always in the store).
package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// Event is the exported form of a session (schema version 1).
type Event struct {
	Version    int       `json:"version"`
	SID        string    `json:"sid"`
	Kind       string    `json:"kind"`
	Resource   string    `json:"resource_name"`
	Role       string    `json:"role,omitempty"`
	Label      string    `json:"label,omitempty"`
	Actor      string    `json:"actor"`
	Agent      string    `json:"agent,omitempty"`
	Replica    string    `json:"replica,omitempty"`
	Status     string    `json:"status"`
	ExitCode   int       `json:"exit_code"`
	Message    string    `json:"message,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Checksum   string    `json:"checksum,omitempty"`
	PlanSID    string    `json:"plan_sid,omitempty"`
	Input      string    `json:"input,omitempty"`
	Output     string    `json:"output,omitempty"`
	Document   string    `json:"document,omitempty"`
	// Severity (info, warning, critical) and Category say how much the
	// event matters and what about: alert on warning and above.
	Severity string `json:"severity"`
	Category string `json:"category"`
	// ChainSeq and ChainHash are the session's place in the store's audit
	// chain (docs/audit-chain.md): a SIEM holding every event can check
	// the chain without the store.
	ChainSeq  int64  `json:"chain_seq,omitempty"`
	ChainHash string `json:"chain_hash,omitempty"`
}

// FromSession builds the event of a session.
func FromSession(s store.Session) Event {
	severity, category := Classify(s)
	return Event{Version: 1, SID: s.SID, Kind: s.Kind, Resource: s.Resource, Role: s.Role, Label: s.Label, Actor: s.Actor, Agent: s.Agent,
		Replica: s.Replica, Status: s.Status, ExitCode: s.ExitCode, Message: s.Message, CreatedAt: s.CreatedAt,
		FinishedAt: s.FinishedAt, Checksum: s.Checksum, PlanSID: s.PlanSID, Input: s.Input, Output: s.Output, Document: s.Document,
		Severity: severity, Category: category, ChainSeq: s.ChainSeq, ChainHash: s.ChainHash}
}

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Classify says how much a finished session matters (severity) and what
// it is about (category). Critical: a burst of failed sign-ins from one
// source. Warnings: an administrator's token used from a new address, a
// drift found, a password revealed, access widened (a group granted a
// role, an administrator added), and any session that failed.
func Classify(s store.Session) (severity, category string) {
	category = map[string]string{
		store.KindDrift: "drift", "reveal": "secret", "access": "access", store.KindApply: "change",
		store.KindPlan: "plan", store.KindHealth: "health", "connect": "connection", "approval": "access", "request": "access", "review": "access",
	}[s.Kind]
	if category == "" {
		category = s.Kind
	}
	switch {
	case s.Kind == "alert":
		// stile's own alerts: the status is the severity.
		if s.Status == SeverityCritical {
			return SeverityCritical, "security"
		}
		return SeverityWarning, "security"
	case s.Kind == store.KindDrift, s.Kind == "reveal", s.ExitCode != 0:
		return SeverityWarning, category
	case s.Kind == "access":
		var in map[string]any
		json.Unmarshal([]byte(s.Input), &in)
		if _, grant := in["grant"]; grant {
			return SeverityWarning, category
		}
		if admin, _ := in["admin"].(bool); admin {
			return SeverityWarning, category
		}
	}
	return SeverityInfo, category
}

// Config says where events go; empty fields are off.
type Config struct {
	File          string
	Webhook       string
	WebhookSecret string
	// Client is used for the webhook; nil means a default with a timeout.
	Client *http.Client
	Log    *slog.Logger
	// OnGiveUp, when set, is told each event the webhook never took.
	OnGiveUp func()
}

// Exporter sends events to the configured sinks in the background.
type Exporter struct {
	cfg   Config
	queue chan Event
	file  *os.File
	wg    sync.WaitGroup

	// mu orders Emit against Close: sessions can finish (a proxied
	// connection ending) while the server shuts down, and a send on the
	// closed queue would panic.
	mu     sync.RWMutex
	closed bool
}

// queueSize bounds events waiting for the sinks.
const queueSize = 1024

// New starts an exporter; Close flushes what is queued.
func New(cfg Config) (*Exporter, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	e := &Exporter{cfg: cfg, queue: make(chan Event, queueSize)}
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit file: %w", err)
		}
		e.file = f
	}
	e.wg.Add(1)
	go e.run()
	return e, nil
}

// Exports reports whether e sends events anywhere: with no sink, Emit
// drops them, and nobody needs to read a session again to emit it.
func (e *Exporter) Exports() bool {
	return e != nil && (e.file != nil || e.cfg.Webhook != "")
}

// Emit queues a finished session for export; it never blocks.
func (e *Exporter) Emit(s store.Session) {
	if !e.Exports() {
		return
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		e.cfg.Log.Warn("audit exporter is closed; event not exported (the session is in the store)", "sid", s.SID)
		return
	}
	select {
	case e.queue <- FromSession(s):
	default:
		e.cfg.Log.Warn("audit export queue is full; event dropped (the session is in the store)", "sid", s.SID)
	}
}

// Close stops the exporter after sending what is queued.
func (e *Exporter) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.queue)
	e.mu.Unlock()
	e.wg.Wait()
	if e.file != nil {
		return e.file.Close()
	}
	return nil
}

func (e *Exporter) run() {
	defer e.wg.Done()
	for ev := range e.queue {
		line, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		if e.file != nil {
			if _, err := e.file.Write(append(line, '\n')); err != nil {
				e.cfg.Log.Error("audit file", "err", err)
			}
		}
		if e.cfg.Webhook != "" {
			e.post(line, ev.SID)
		}
	}
}

// Sign is the webhook signature of body: hex HMAC-SHA256 with secret, sent
// as X-Stile-Signature: sha256=<hex>.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post delivers one event, retrying with jittered backoff (5 attempts).
func (e *Exporter) post(body []byte, sid string) {
	backoff := 200 * time.Millisecond
	for attempt := 1; attempt <= 5; attempt++ {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.cfg.Webhook, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Stile-Event", "session")
		if e.cfg.WebhookSecret != "" {
			req.Header.Set("X-Stile-Signature", Sign(e.cfg.WebhookSecret, body))
		}
		resp, err := e.cfg.Client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		e.cfg.Log.Warn("audit webhook", "sid", sid, "attempt", attempt, "err", err)
		time.Sleep(backoff/2 + rand.N(backoff))
		backoff *= 2
	}
	e.cfg.Log.Error("audit webhook gave up on an event (the session is in the store)", "sid", sid)
	if e.cfg.OnGiveUp != nil {
		e.cfg.OnGiveUp()
	}
}
