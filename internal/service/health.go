package service

import (
	"context"
	"encoding/json"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// HealthResult is api.HealthResult (the wire type), kept here for the server side.
type HealthResult = api.HealthResult

// Health checks a resource through its agent and records a health session.
// A failed check returns the result and the classified error.
func (s *Inventory) Health(ctx context.Context, p Principal, name string) (HealthResult, error) {
	if err := p.MayAdminister(); err != nil {
		return HealthResult{}, err
	}
	r, err := s.store.Resource(ctx, name)
	if err != nil {
		return HealthResult{}, err
	}
	sess := store.Session{SID: newSID(), Kind: store.KindHealth, Resource: name, Actor: p.User, Agent: r.Agent, CreatedAt: s.now(), Replica: s.replica, Status: "running", Input: "{}"}
	if err := s.store.CreateSessions(ctx, sess); err != nil {
		return HealthResult{}, err
	}
	res := HealthResult{SID: sess.SID}
	t, err := s.target(r)
	if err == nil {
		a, aerr := s.agent(r.Agent)
		if aerr != nil {
			err = aerr
		} else {
			res.Health, err = a.Health(ctx, t)
		}
	}
	msg := errs.Public(s.log, err, "resource", name, "sid", sess.SID)
	if err != nil && res.Health.Error == "" {
		res.Health.Status, res.Health.Error = "error", msg
	}
	out, _ := yaml.Marshal(res.Health)
	in, _ := json.Marshal(map[string]string{"resource": name})
	sess.Input, sess.Output, sess.FinishedAt = string(in), string(out), s.now()
	sess.Status, sess.ExitCode = "ok", 0
	if err != nil {
		sess.Status, sess.ExitCode, sess.Message = "failed", 1, msg
	}
	if ferr := s.store.FinishSession(context.WithoutCancel(ctx), sess); ferr != nil {
		return res, ferr
	}
	s.emit(sess)
	return res, err
}
