package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const agentCols = "name, token_hash, created_at, revoked_at, last_seen, version, replica"

func scanAgent(row interface{ Scan(...any) error }) (store.Agent, error) {
	var a store.Agent
	var created, revoked, seen string
	err := row.Scan(&a.Name, &a.TokenHash, &created, &revoked, &seen, &a.Version, &a.Replica)
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
func (s *DB) TouchAgent(ctx context.Context, name, version, replica string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, "UPDATE agents SET last_seen = ?, version = ?, replica = ? WHERE name = ?", ts(at), version, replica, name)
	return err
}

// DisconnectAgent clears the agent's replica if it is still replica.
func (s *DB) DisconnectAgent(ctx context.Context, name, replica string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE agents SET replica = '' WHERE name = ? AND replica = ?", name, replica)
	return err
}

const jobCols = "id, agent, kind, payload, status, result, error, claimed_by, created_at, deadline"

func scanJob(row interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var created, deadline string
	err := row.Scan(&j.ID, &j.Agent, &j.Kind, &j.Payload, &j.Status, &j.Result, &j.Error, &j.ClaimedBy, &created, &deadline)
	j.CreatedAt, j.Deadline = parseTS(created), parseTS(deadline)
	return j, err
}

// EnqueueJob queues a job.
func (s *DB) EnqueueJob(ctx context.Context, j store.Job) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO jobs ("+jobCols+") VALUES (?, ?, ?, ?, 'queued', '', '', '', ?, ?)", j.ID, j.Agent, j.Kind, j.Payload, ts(j.CreatedAt), ts(j.Deadline))
	if err != nil {
		return fmt.Errorf("enqueue job: %w", err)
	}
	return nil
}

// ClaimJobs claims queued jobs of agents for replica.
func (s *DB) ClaimJobs(ctx context.Context, agents []string, replica string, limit int) ([]store.Job, error) {
	if len(agents) == 0 {
		return nil, nil
	}
	var out []store.Job
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := "SELECT " + jobCols + " FROM jobs WHERE status = 'queued' AND agent IN (?" + strings.Repeat(", ?", len(agents)-1) + ") ORDER BY created_at LIMIT ?"
		args := make([]any, 0, len(agents)+1)
		for _, a := range agents {
			args = append(args, a)
		}
		rows, err := tx.QueryContext(ctx, q, append(args, limit)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			j, err := scanJob(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, j)
		}
		rows.Close()
		for i := range out {
			if _, err := tx.ExecContext(ctx, "UPDATE jobs SET status = 'running', claimed_by = ? WHERE id = ?", replica, out[i].ID); err != nil {
				return err
			}
			out[i].Status, out[i].ClaimedBy = "running", replica
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return out, nil
}

// FinishJob records a job's outcome.
func (s *DB) FinishJob(ctx context.Context, id, result, errJSON string) error {
	_, err := s.db.ExecContext(ctx, "UPDATE jobs SET status = 'done', result = ?, error = ? WHERE id = ?", result, errJSON, id)
	return err
}

// Job returns one job.
func (s *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, "SELECT "+jobCols+" FROM jobs WHERE id = ?", id))
	if err != nil {
		return j, notFound(err, "job %s does not exist", id)
	}
	return j, nil
}
