package service

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// Session kind of a password reveal.
const KindReveal = "reveal"

// ResourceRole is api.ResourceRole (the wire type), kept here for the server side.
type ResourceRole = api.ResourceRole

// resourceRoles lists every role an apply has set up (the ones stile holds
// a password for), by name.
func (s *core) resourceRoles(ctx context.Context) ([]ResourceRole, error) {
	resources, err := s.resourceMap(ctx)
	if err != nil {
		return nil, err
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return nil, err
	}
	var out []ResourceRole
	for _, r := range roles {
		res, ok := resources[r.Resource]
		if !ok || r.PasswordCurrent == "" {
			continue
		}
		out = append(out, resourceRole(r, res))
	}
	return out, nil
}

// ResourceRoleFor returns one resource role that p may use or request; others are
// errs.NotFound, so that members learn nothing of roles they lack.
func (s *Access) ResourceRoleFor(ctx context.Context, p Principal, name string) (ResourceRole, error) {
	ok, err := s.CanSee(ctx, p, name)
	if err != nil {
		return ResourceRole{}, err
	}
	if !ok {
		return ResourceRole{}, errs.New(errs.NotFound, "resource role %q does not exist", name)
	}
	return s.resourceRole(ctx, name)
}

// resourceRole returns one resource role by its PostgreSQL name.
func (s *core) resourceRole(ctx context.Context, name string) (ResourceRole, error) {
	notFound := errs.New(errs.NotFound, "resource role %q does not exist (roles appear here once an apply has set their password)", name)
	r, err := s.store.RoleByName(ctx, name)
	if errs.Is(err, errs.NotFound) || (err == nil && r.PasswordCurrent == "") {
		return ResourceRole{}, notFound
	}
	if err != nil {
		return ResourceRole{}, err
	}
	res, err := s.store.Resource(ctx, r.Resource)
	if errs.Is(err, errs.NotFound) {
		return ResourceRole{}, notFound
	}
	if err != nil {
		return ResourceRole{}, err
	}
	return resourceRole(r, res), nil
}

// resourceRole is role r of resource res as people use it.
func resourceRole(r store.Role, res store.Resource) ResourceRole {
	return ResourceRole{
		Name: r.RoleName, Resource: r.Resource, Label: r.Label, Type: r.Spec.Type,
		Host: res.Host, Port: res.Port, Database: res.Database, SSLMode: res.SSLMode, Agent: res.Agent,
		HasPassword: true, Status: r.Status, LastApply: r.LastApplySID,
	}
}

// RevealPassword returns a resource role's password, for systems that cannot
// connect through stile, and records who asked in a session (the password
// itself is never in the session).
func (s *Provisioning) RevealPassword(ctx context.Context, p Principal, name string) (string, error) {
	if err := p.MayAdminister(); err != nil {
		return "", err
	}
	rr, err := s.resourceRole(ctx, name)
	if err != nil {
		return "", err
	}
	pw, err := s.rolePassword(ctx, rr)
	if err != nil {
		return "", err
	}
	in, _ := json.Marshal(map[string]string{"role": name})
	now := s.now()
	sess := store.Session{SID: newSID(), Kind: KindReveal, Resource: rr.Resource, Role: name, Label: rr.Label, Actor: p.User,
		CreatedAt: now, FinishedAt: now, Replica: s.replica, Status: "ok", Input: string(in), Output: "password revealed to " + p.User + "\n"}
	if err := s.store.CreateSessions(ctx, sess); err != nil {
		return "", err
	}
	s.emit(sess)
	s.log.Info("resource role password revealed", "role", name, "p.User", p.User)
	return pw, nil
}

// RetireRole plans the removal of a managed or external role (by its
// PostgreSQL name): apply the returned plan to carry it out. heir takes
// what the role owns; empty means each database's owner.
func (s *Provisioning) RetireRole(ctx context.Context, p Principal, name, heir string) (PlanOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return PlanOutcome{}, err
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return PlanOutcome{}, err
	}
	for _, r := range roles {
		if r.RoleName != name {
			continue
		}
		item := r.Spec
		item.Retire, item.Heir, item.RotatePassword = true, heir, false
		out, err := s.Plan(ctx, p, []spec.Role{item})
		if err != nil {
			return PlanOutcome{}, err
		}
		return out[0], nil
	}
	return PlanOutcome{}, errs.New(errs.NotFound, "role %q is not one stile declared", name)
}

// rolePassword is rr's current password, unsealed.
func (s *core) rolePassword(ctx context.Context, rr ResourceRole) (string, error) {
	r, err := s.store.Role(ctx, rr.Resource, rr.Label)
	if err != nil {
		return "", err
	}
	pw, err := s.box.Open(r.PasswordCurrent, passwordAD(r.Resource, r.Label))
	if err != nil {
		return "", fmt.Errorf("password of %s: %w", rr.Name, err)
	}
	return pw, nil
}
