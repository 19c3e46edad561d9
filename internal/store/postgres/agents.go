package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const agentCols = "name, token_hash, created_at, revoked_at, last_seen, version"

func scanAgent(row pgx.Row) (store.Agent, error) {
	var a store.Agent
	var revoked, seen *time.Time
	err := row.Scan(&a.Name, &a.TokenHash, &a.CreatedAt, &revoked, &seen, &a.Version)
	a.CreatedAt = a.CreatedAt.UTC()
	if revoked != nil {
		a.RevokedAt = revoked.UTC()
	}
	if seen != nil {
		a.LastSeen = seen.UTC()
	}
	return a, err
}

// CreateAgent registers an agent.
func (s *DB) CreateAgent(ctx context.Context, name, tokenHash string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_agents (name, token_hash, created_at) VALUES ($1, $2, $3)", name, tokenHash, now())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return errs.New(errs.Conflict, "agent %q exists already", name)
	}
	if err != nil {
		return fmt.Errorf("create agent %s: %w", name, err)
	}
	return nil
}

// Agents lists agents by name.
func (s *DB) Agents(ctx context.Context) ([]store.Agent, error) {
	return queryAll(ctx, s, "list agents", scanAgent, "SELECT "+agentCols+" FROM stile_agents ORDER BY name COLLATE \"C\"")
}

// AgentByToken finds an unrevoked agent by token hash.
func (s *DB) AgentByToken(ctx context.Context, tokenHash string) (store.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, "SELECT "+agentCols+" FROM stile_agents WHERE token_hash = $1 AND revoked_at IS NULL", tokenHash))
	if err != nil {
		return a, notFound(err, "no agent has this token")
	}
	return a, nil
}

// RevokeAgent revokes an agent's token.
func (s *DB) RevokeAgent(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_agents SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL", now(), name)
	if err != nil {
		return fmt.Errorf("revoke agent %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "agent %q does not exist or is revoked", name)
	}
	return nil
}

// TouchAgent records a heartbeat.
func (s *DB) TouchAgent(ctx context.Context, name, version string, at time.Time) error {
	_, err := s.pool.Exec(ctx, "UPDATE stile_agents SET last_seen = $1, version = $2 WHERE name = $3", at, version, name)
	return err
}
