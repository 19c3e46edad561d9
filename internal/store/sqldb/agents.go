package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const agentCols = "name, token_hash, created_at, revoked_at, last_seen, version, replica"

func scanAgent(row scanner) (store.Agent, error) {
	var a store.Agent
	err := row.Scan(&a.Name, &a.TokenHash, at{&a.CreatedAt}, at{&a.RevokedAt}, at{&a.LastSeen}, &a.Version, &a.Replica)
	return a, err
}

// CreateAgent registers an agent.
func (s *DB) CreateAgent(ctx context.Context, name, tokenHash string) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {agents} (name, token_hash, created_at) VALUES (?, ?, ?)", name, tokenHash, c.now())
	if err != nil && s.d.Unique(err) {
		return errs.New(errs.Conflict, "agent %q exists already", name)
	}
	if err != nil {
		return fmt.Errorf("create agent %s: %w", name, err)
	}
	return nil
}

// Agents lists agents by name.
func (s *DB) Agents(ctx context.Context) ([]store.Agent, error) {
	return queryAll(ctx, s.c(), "list agents", scanAgent, "SELECT "+agentCols+" FROM {agents} ORDER BY name{C}")
}

// AgentByToken finds an unrevoked agent by token hash.
func (s *DB) AgentByToken(ctx context.Context, tokenHash string) (store.Agent, error) {
	a, err := scanAgent(s.c().row(ctx, "SELECT "+agentCols+" FROM {agents} WHERE token_hash = ? AND revoked_at {unset}", tokenHash))
	if err != nil {
		return a, notFound(err, "no agent has this token")
	}
	return a, nil
}

// RevokeAgent revokes an agent's token.
func (s *DB) RevokeAgent(ctx context.Context, name string) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {agents} SET revoked_at = ? WHERE name = ? AND revoked_at {unset}", c.now(), name)
	if err != nil {
		return fmt.Errorf("revoke agent %s: %w", name, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "agent %q does not exist or is revoked", name)
	}
	return nil
}

// TouchAgent records a heartbeat.
func (s *DB) TouchAgent(ctx context.Context, name, version, replica string, at time.Time) error {
	c := s.c()
	_, err := c.exec(ctx, "UPDATE {agents} SET last_seen = ?, version = ?, replica = ? WHERE name = ?", c.tm(at), version, replica, name)
	return err
}

// DisconnectAgent clears the agent's replica if it is still replica.
func (s *DB) DisconnectAgent(ctx context.Context, name, replica string) error {
	_, err := s.c().exec(ctx, "UPDATE {agents} SET replica = '' WHERE name = ? AND replica = ?", name, replica)
	return err
}
