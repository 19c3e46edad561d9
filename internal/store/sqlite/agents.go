package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const agentCols = "name, token_hash, created_at, revoked_at, last_seen, version"

func scanAgent(row interface{ Scan(...any) error }) (store.Agent, error) {
	var a store.Agent
	var created, revoked, seen string
	err := row.Scan(&a.Name, &a.TokenHash, &created, &revoked, &seen, &a.Version)
	a.CreatedAt, a.RevokedAt, a.LastSeen = parseTS(created), parseTS(revoked), parseTS(seen)
	return a, err
}

// CreateAgent registers an agent.
func (s *DB) CreateAgent(ctx context.Context, name, tokenHash string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO agents (name, token_hash, created_at) VALUES (?, ?, ?)", name, tokenHash, now())
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return errs.New(errs.Conflict, "agent %q exists already", name)
	}
	if err != nil {
		return fmt.Errorf("create agent %s: %w", name, err)
	}
	return nil
}

// Agents lists agents by name.
func (s *DB) Agents(ctx context.Context) ([]store.Agent, error) {
	return queryAll(ctx, s.db, "list agents", scanAgent, "SELECT "+agentCols+" FROM agents ORDER BY name")
}

// AgentByToken finds an unrevoked agent by token hash.
func (s *DB) AgentByToken(ctx context.Context, tokenHash string) (store.Agent, error) {
	a, err := scanAgent(s.db.QueryRowContext(ctx, "SELECT "+agentCols+" FROM agents WHERE token_hash = ? AND revoked_at = ''", tokenHash))
	if err != nil {
		return a, notFound(err, "no agent has this token")
	}
	return a, nil
}

// RevokeAgent revokes an agent's token.
func (s *DB) RevokeAgent(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE agents SET revoked_at = ? WHERE name = ? AND revoked_at = ''", now(), name)
	if err != nil {
		return fmt.Errorf("revoke agent %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "agent %q does not exist or is revoked", name)
	}
	return nil
}

// TouchAgent records a heartbeat.
func (s *DB) TouchAgent(ctx context.Context, name, version string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE agents SET last_seen = ?, version = ? WHERE name = ?", ts(at), version, name)
	return err
}
