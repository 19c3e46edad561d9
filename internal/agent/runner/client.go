package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/target"
	"github.com/stile-dev/stile/internal/version"
)

// Dial runs a remote agent: it dials the server (wss:// when the URL is
// https), authenticates with token, runs every job it is sent concurrently
// with the built-in executor, and reconnects with jittered exponential
// backoff until ctx ends. It opens no port. Credentials arrive inside jobs
// and are neither logged nor written anywhere. It keeps no admin connection
// after a job (DialWith takes a Local with a pool).
func Dial(ctx context.Context, serverURL, token string, log *slog.Logger) error {
	return DialWith(ctx, serverURL, token, nil, Local{}, log)
}

// DialWith is Dial with an HTTP client of the caller's (for a private CA)
// and the Local that runs the jobs (with the agent's idle pool).
func DialWith(ctx context.Context, serverURL, token string, hc *http.Client, local Local, log *slog.Logger) error {
	wsURL := strings.TrimRight(serverURL, "/") + "/api/v1/agent/connect"
	switch {
	case strings.HasPrefix(wsURL, "https://"):
		wsURL = "wss://" + strings.TrimPrefix(wsURL, "https://")
	case strings.HasPrefix(wsURL, "http://"):
		wsURL = "ws://" + strings.TrimPrefix(wsURL, "http://")
	default:
		return fmt.Errorf("server URL %q is not http(s)", serverURL)
	}
	backoff := 250 * time.Millisecond
	live := &liveStreams{}
	for {
		start := time.Now()
		err := session(ctx, wsURL, token, hc, local, live, log)
		if ctx.Err() != nil {
			return nil
		}
		var unauthorized errUnauthorized
		if errors.As(err, &unauthorized) {
			return err
		}
		if time.Since(start) > time.Minute {
			backoff = 250 * time.Millisecond
		}
		wait := backoff/2 + rand.N(backoff)
		log.Warn("connection to the server lost; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

type errUnauthorized struct{ msg string }

func (e errUnauthorized) Error() string { return e.msg }

// session is one connection's lifetime.
func session(ctx context.Context, wsURL, token string, hc *http.Client, local Local, live *liveStreams, log *slog.Logger) error {
	hdr := http.Header{"Authorization": {"Bearer " + token}, "X-Stile-Agent-Version": {agent.Version + " stile/" + version.Short()}}
	ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: hdr, HTTPClient: hc})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return errUnauthorized{"the server refused the agent token (unknown or revoked)"}
		}
		return fmt.Errorf("dial: %w", err)
	}
	ws.SetReadLimit(64 << 20)
	defer ws.CloseNow()
	log.Info("connected to the server")
	var wmu sync.Mutex
	send := func(m agent.Message) error {
		wmu.Lock()
		defer wmu.Unlock()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return wsjson.Write(wctx, ws, m)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// Say goodbye when stopping, so the server marks us offline now.
		<-sctx.Done()
		ws.Close(websocket.StatusNormalClosure, "agent stopping")
	}()
	go func() {
		t := time.NewTicker(agent.HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if send(agent.Message{Type: "heartbeat"}) != nil {
					return
				}
			}
		}
	}()
	var jobs sync.WaitGroup
	defer jobs.Wait()
	for {
		var m agent.Message
		if err := wsjson.Read(sctx, ws, &m); err != nil {
			return err
		}
		if m.Type != "job" {
			continue
		}
		jobs.Add(1)
		go func() {
			defer jobs.Done()
			var payload any
			var err error
			switch m.Kind {
			case agent.JobConnect:
				// The relay outlives the job: bound it by the agent's life.
				payload, err = openStream(ctx, wsURL, token, hc, live, m, log)
			case agent.JobCancel:
				payload, err = cancelStream(sctx, live, m)
			case agent.JobApplyBatch:
				payload, err = local.applyBatch(sctx, m, func(p agent.BatchProgress) {
					body, _ := json.Marshal(p)
					if err := send(agent.Message{Type: "progress", ID: m.ID, Payload: body}); err != nil {
						log.Warn("send progress", "err", err)
					}
				})
			default:
				payload, err = local.run(sctx, m)
			}
			reply := agent.Message{Type: "result", ID: m.ID, Error: agent.ToWire(err)}
			if payload != nil {
				reply.Payload, _ = json.Marshal(payload)
			}
			if err := send(reply); err != nil {
				log.Warn("send result", "kind", m.Kind, "err", err)
			}
		}()
	}
}

// applyBatch runs an apply batch with the built-in agent, sending each
// job's report as it ends; the result repeats them all.
func (local Local) applyBatch(ctx context.Context, m agent.Message, progress func(agent.BatchProgress)) (any, error) {
	var jobs []apply.Job
	if err := json.Unmarshal(m.Payload, &jobs); err != nil {
		return nil, err
	}
	return local.ApplyBatch(ctx, jobs, func(i int, rep apply.Report) {
		progress(agent.BatchProgress{Index: i, Report: rep})
	}), nil
}

// run executes one job with the built-in agent: the same code path as the
// server's own.
func (local Local) run(ctx context.Context, m agent.Message) (any, error) {
	switch m.Kind {
	case agent.JobHealth:
		var t target.Target
		if err := json.Unmarshal(m.Payload, &t); err != nil {
			return nil, err
		}
		h, err := local.Health(ctx, t)
		return agent.HealthResult{Health: h, Err: agent.ToWire(err)}, nil
	case agent.JobPlan:
		var j agent.PlanJob
		if err := json.Unmarshal(m.Payload, &j); err != nil {
			return nil, err
		}
		return local.Plan(ctx, j.Target, j.Inputs)
	case agent.JobCheckLogin:
		var j agent.LoginJob
		if err := json.Unmarshal(m.Payload, &j); err != nil {
			return nil, err
		}
		return local.CheckLogin(ctx, j.Target, j.Role, j.Password)
	case agent.JobScopes:
		var t target.Target
		if err := json.Unmarshal(m.Payload, &t); err != nil {
			return nil, err
		}
		return local.Scopes(ctx, t)
	case agent.JobDiscover:
		var t target.Target
		if err := json.Unmarshal(m.Payload, &t); err != nil {
			return nil, err
		}
		return local.Discover(ctx, t)
	case agent.JobWhoCan:
		var j agent.WhoCanJob
		if err := json.Unmarshal(m.Payload, &j); err != nil {
			return nil, err
		}
		return local.WhoCan(ctx, j.Target, j.Query)
	case agent.JobColumn:
		var j agent.ColumnJob
		if err := json.Unmarshal(m.Payload, &j); err != nil {
			return nil, err
		}
		return local.Column(ctx, j.Target, j.Database, j.Table, j.Attnum)
	}
	return nil, fmt.Errorf("unknown job kind %q", m.Kind)
}
