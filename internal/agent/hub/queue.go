package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// The job queue: with several replicas on one store, a job for an agent
// connected elsewhere is written to the store, claimed by the agent's
// replica, run there, and its result written back.

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

// queue puts a job in the store for the replica the agent is connected to,
// and waits for its result.
func (h *Hub) queue(ctx context.Context, name, kind string, body []byte) (agent.Message, error) {
	if !h.Online(ctx, name) {
		return agent.Message{}, errs.New(errs.Unavailable, "agent %s is offline", name)
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
		return agent.Message{}, err
	}
	h.mu.Lock()
	poll := h.poll
	h.mu.Unlock()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return agent.Message{}, timeout(ctx, name, kind)
		case <-done:
		case <-tick.C:
		}
		got, err := h.reg.Job(context.WithoutCancel(ctx), id)
		if err != nil {
			return agent.Message{}, err
		}
		if got.Status != "done" {
			continue
		}
		m := agent.Message{Type: "result", ID: id, Payload: json.RawMessage(got.Result)}
		if got.Error != "" {
			var we agent.WireError
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
	finish := func(m agent.Message, err error) {
		var result, errJSON string
		if err == nil && m.Error != nil {
			err = m.Error.Err()
		}
		if err != nil {
			b, _ := json.Marshal(agent.ToWire(err))
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
		finish(agent.Message{}, errs.New(errs.Failed, "agent %s: the %s job timed out in the queue", j.Agent, j.Kind))
		return
	}
	body, err := h.box.Open(j.Payload, "job:"+j.ID)
	if err != nil {
		finish(agent.Message{}, fmt.Errorf("open job payload: %w", err))
		return
	}
	h.mu.Lock()
	c := h.conns[j.Agent]
	h.mu.Unlock()
	if c == nil {
		finish(agent.Message{}, errs.New(errs.Unavailable, "agent %s went offline", j.Agent))
		return
	}
	jctx, cancel := context.WithDeadline(ctx, j.Deadline)
	defer cancel()
	finish(h.send(jctx, c, j.Kind, []byte(body), nil))
}
