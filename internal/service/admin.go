package service

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// AdminResult is api.AdminResult (the wire type), kept here for the server side.
type AdminResult = api.AdminResult

// SetAdmin validates an admin credential through the agent (it must connect
// and be able to manage roles) and only then stores it, sealed. On failure
// nothing is stored and the error says why: authentication failed,
// unreachable, or not privileged enough.
func (s *Inventory) SetAdmin(ctx context.Context, p Principal, a spec.Admin, agentName string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	if agentName == "" {
		agentName = agent.LocalName
	}
	ag, err := s.agent(agentName)
	if err != nil {
		return err
	}
	r, err := s.store.Resource(ctx, a.Resource)
	if err != nil {
		return err
	}
	t := target.Target{Host: r.Host, Port: r.Port, Database: r.Database, SSLMode: r.SSLMode, User: a.User, Password: a.Password}
	if _, err := ag.Health(ctx, t); err != nil {
		return err
	}
	if err := s.store.SetAdmin(ctx, a.Resource, a.User, s.box.Seal(a.Password, adminAD(a.Resource)), agentName); err != nil {
		return fmt.Errorf("store admin of %s: %w", a.Resource, err)
	}
	s.log.Info("admin credential set", "resource", a.Resource, "admin_user", a.User, "agent", agentName)
	return nil
}

// ImportAdmins sets every admin credential of a CSV (name,admin_user,
// password), each validated on its own: a row that fails stores nothing and
// says why. It returns an errs.Invalid if any row failed.
func (s *Inventory) ImportAdmins(ctx context.Context, p Principal, csv []byte, agentName string) ([]AdminResult, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	rows, err := spec.ParseAdminsCSV(csv)
	if err != nil {
		return nil, err
	}
	out := make([]AdminResult, 0, len(rows))
	failed := 0
	for _, a := range rows {
		res := AdminResult{Name: a.Resource, OK: true}
		if err := s.SetAdmin(ctx, p, a, agentName); err != nil {
			res.OK, res.Error = false, errs.Public(s.log, err, "resource", a.Resource)
			failed++
		}
		out = append(out, res)
	}
	if failed > 0 {
		return out, errs.Invalidf("%d of %d admin credentials failed validation and were not stored", failed, len(rows))
	}
	return out, nil
}
