package service

import (
	"context"
	"fmt"
	"regexp"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/version"
)

// AgentView is api.AgentView (the wire type), kept here for the server side.
type AgentView = api.AgentView

var agentName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Agents lists the built-in agents and the registered remote ones, with
// whether each is online and the resources it serves.
func (s *Inventory) Agents(ctx context.Context, p Principal) ([]AgentView, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	serves := map[string][]string{}
	resources, err := s.store.Resources(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		serves[r.Agent] = append(serves[r.Agent], r.Name)
	}
	var out []AgentView
	for _, name := range sortedNames(s.agents) {
		out = append(out, AgentView{Name: name, Online: s.agents[name].Online(), Builtin: true, Version: agent.Version + " stile/" + version.Short(), Resources: nonNil(serves[name])})
	}
	list, err := s.store.Agents(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		v := AgentView{Name: a.Name, Version: a.Version, LastSeen: a.LastSeen, Revoked: !a.RevokedAt.IsZero(), Resources: nonNil(serves[a.Name])}
		if s.hub != nil && !v.Revoked {
			v.Online = s.hub.Online(ctx, a.Name)
		}
		out = append(out, v)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CreateAgent registers a remote agent and returns its token, which is
// shown this once: only its hash is stored.
func (s *Inventory) CreateAgent(ctx context.Context, p Principal, name string) (string, error) {
	if err := p.MayAdminister(); err != nil {
		return "", err
	}
	if !agentName.MatchString(name) {
		return "", errs.Invalidf("agent name %q must be 1-63 of [a-z0-9_-], starting with a letter or digit", name)
	}
	if _, builtin := s.agents[name]; builtin {
		return "", errs.New(errs.Conflict, "agent %q is built in", name)
	}
	token := "stla_" + secret.NewToken()
	if err := s.store.CreateAgent(ctx, name, secret.TokenHash(token)); err != nil {
		return "", err
	}
	s.log.Info("agent created", "agent", name)
	return token, nil
}

// RevokeAgent revokes an agent's token and drops its connection.
func (s *Inventory) RevokeAgent(ctx context.Context, p Principal, name string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.RevokeAgent(ctx, name); err != nil {
		return fmt.Errorf("revoke agent: %w", err)
	}
	if s.hub != nil {
		s.hub.Disconnect(name)
	}
	s.log.Info("agent revoked", "agent", name)
	return nil
}
