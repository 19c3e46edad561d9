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

const agentCols = "name, token_hash, created_at, revoked_at, last_seen, version, replica"

func scanAgent(row pgx.Row) (store.Agent, error) {
	var a store.Agent
	var revoked, seen *time.Time
	err := row.Scan(&a.Name, &a.TokenHash, &a.CreatedAt, &revoked, &seen, &a.Version, &a.Replica)
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
func (s *DB) TouchAgent(ctx context.Context, name, version, replica string, at time.Time) error {
	_, err := s.pool.Exec(ctx, "UPDATE stile_agents SET last_seen = $1, version = $2, replica = $3 WHERE name = $4", at, version, replica, name)
	return err
}

// DisconnectAgent clears the agent's replica if it is still replica.
func (s *DB) DisconnectAgent(ctx context.Context, name, replica string) error {
	_, err := s.pool.Exec(ctx, "UPDATE stile_agents SET replica = '' WHERE name = $1 AND replica = $2", name, replica)
	return err
}

const jobCols = "id, agent, kind, payload, status, result, error, claimed_by, created_at, deadline"

func scanJob(row pgx.Row) (store.Job, error) {
	var j store.Job
	err := row.Scan(&j.ID, &j.Agent, &j.Kind, &j.Payload, &j.Status, &j.Result, &j.Error, &j.ClaimedBy, &j.CreatedAt, &j.Deadline)
	j.CreatedAt, j.Deadline = j.CreatedAt.UTC(), j.Deadline.UTC()
	return j, err
}

// EnqueueJob queues a job and wakes the replicas (NOTIFY stile_jobs).
func (s *DB) EnqueueJob(ctx context.Context, j store.Job) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO stile_jobs ("+jobCols+") VALUES ($1, $2, $3, $4, 'queued', '', '', '', $5, $6)", j.ID, j.Agent, j.Kind, j.Payload, j.CreatedAt, j.Deadline); err != nil {
			return fmt.Errorf("enqueue job: %w", err)
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify('stile_jobs', $1)", j.Agent)
		return err
	})
}

// ClaimJobs claims queued jobs with FOR UPDATE SKIP LOCKED, so replicas
// claiming at once never share a job.
func (s *DB) ClaimJobs(ctx context.Context, agents []string, replica string, limit int) ([]store.Job, error) {
	if len(agents) == 0 {
		return nil, nil
	}
	return queryAll(ctx, s, "claim jobs", scanJob, `
UPDATE stile_jobs SET status = 'running', claimed_by = $2
WHERE id IN (SELECT id FROM stile_jobs WHERE status = 'queued' AND agent = ANY($1)
             ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING `+jobCols, agents, replica, limit)
}

// FinishJob records a job's outcome and wakes the waiting replica.
func (s *DB) FinishJob(ctx context.Context, id, result, errJSON string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE stile_jobs SET status = 'done', result = $1, error = $2 WHERE id = $3", result, errJSON, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify('stile_job_done', $1)", id)
		return err
	})
}

// Job returns one job.
func (s *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, "SELECT "+jobCols+" FROM stile_jobs WHERE id = $1", id))
	if err != nil {
		return j, notFound(err, "job %s does not exist", id)
	}
	return j, nil
}
