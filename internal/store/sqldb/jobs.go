package sqldb

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/store"
)

const jobCols = "id, agent, kind, payload, status, result, error, claimed_by, created_at, deadline"

func scanJob(row scanner) (store.Job, error) {
	var j store.Job
	err := row.Scan(&j.ID, &j.Agent, &j.Kind, &j.Payload, &j.Status, &j.Result, &j.Error, &j.ClaimedBy, at{&j.CreatedAt}, at{&j.Deadline})
	return j, err
}

// notify wakes other replicas (NOTIFY channel) where the dialect can.
func notify(ctx context.Context, tx conn, channel, payload string) error {
	if tx.d.Notify == "" {
		return nil
	}
	_, err := tx.exec(ctx, tx.d.Notify, channel, payload)
	return err
}

// EnqueueJob queues a job and wakes the replicas (channel stile_jobs).
func (s *DB) EnqueueJob(ctx context.Context, j store.Job) error {
	return s.tx(ctx, func(tx conn) error {
		if _, err := tx.exec(ctx, "INSERT INTO {jobs} ("+jobCols+") VALUES (?, ?, ?, ?, 'queued', '', '', '', ?, ?)", j.ID, j.Agent, j.Kind, j.Payload, tx.tm(j.CreatedAt), tx.tm(j.Deadline)); err != nil {
			return fmt.Errorf("enqueue job: %w", err)
		}
		return notify(ctx, tx, "stile_jobs", j.Agent)
	})
}

// ClaimJobs claims queued jobs of agents for replica. Where the dialect
// locks rows it skips locked ones, so replicas claiming at once never
// share a job; the SQLite store's one connection serializes claims.
func (s *DB) ClaimJobs(ctx context.Context, agents []string, replica string, limit int) ([]store.Job, error) {
	if len(agents) == 0 {
		return nil, nil
	}
	var out []store.Job
	err := s.tx(ctx, func(tx conn) error {
		var err error
		out, err = queryAll(ctx, tx, "select jobs", scanJob, "SELECT "+jobCols+" FROM {jobs} WHERE status = 'queued' AND agent IN "+in(len(agents))+" ORDER BY created_at LIMIT ?{skiplocked}",
			append(anys(agents), limit)...)
		if err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.exec(ctx, "UPDATE {jobs} SET status = 'running', claimed_by = ? WHERE id = ?", replica, out[i].ID); err != nil {
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

// FinishJob records a job's outcome and wakes the waiting replica
// (channel stile_job_done).
func (s *DB) FinishJob(ctx context.Context, id, result, errJSON string) error {
	return s.tx(ctx, func(tx conn) error {
		if _, err := tx.exec(ctx, "UPDATE {jobs} SET status = 'done', result = ?, error = ? WHERE id = ?", result, errJSON, id); err != nil {
			return err
		}
		return notify(ctx, tx, "stile_job_done", id)
	})
}

// Job returns one job.
func (s *DB) Job(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(s.c().row(ctx, "SELECT "+jobCols+" FROM {jobs} WHERE id = ?", id))
	if err != nil {
		return j, notFound(err, "job %s does not exist", id)
	}
	return j, nil
}
