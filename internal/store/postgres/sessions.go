package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const sessionCols = "sid, kind, resource, role, label, actor, agent, created_at, finished_at, status, exit_code, message, input, output, document, checksum, plan_sid, applied_by, replica"

func scanSession(row pgx.Row) (store.Session, error) {
	var s store.Session
	var finished *time.Time
	err := row.Scan(&s.SID, &s.Kind, &s.Resource, &s.Role, &s.Label, &s.Actor, &s.Agent, &s.CreatedAt, &finished, &s.Status, &s.ExitCode, &s.Message, &s.Input, &s.Output, &s.Document, &s.Checksum, &s.PlanSID, &s.AppliedBy, &s.Replica)
	s.CreatedAt = s.CreatedAt.UTC()
	if finished != nil {
		s.FinishedAt = finished.UTC()
	}
	return s, err
}

func insertSession(ctx context.Context, tx pgx.Tx, s store.Session) error {
	_, err := tx.Exec(ctx, "INSERT INTO stile_sessions ("+sessionCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
		s.SID, s.Kind, s.Resource, s.Role, s.Label, s.Actor, s.Agent, s.CreatedAt, nullTime(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.PlanSID, s.AppliedBy, s.Replica)
	if err != nil {
		return fmt.Errorf("record session %s: %w", s.SID, err)
	}
	return nil
}

func finishSession(ctx context.Context, tx pgx.Tx, s store.Session) error {
	tag, err := tx.Exec(ctx, `UPDATE stile_sessions SET finished_at = $1, status = $2, exit_code = $3, message = $4, input = $5, output = $6, document = $7, checksum = $8 WHERE sid = $9`,
		nullTime(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.SID)
	if err != nil {
		return fmt.Errorf("finish session %s: %w", s.SID, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "session %s does not exist", s.SID)
	}
	return nil
}

// CreateSession records a session.
func (s *DB) CreateSession(ctx context.Context, sess store.Session) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return insertSession(ctx, tx, sess) })
}

// FinishSession records a session's end.
func (s *DB) FinishSession(ctx context.Context, sess store.Session) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return finishSession(ctx, tx, sess) })
}

// FinishPlan finishes a plan session and, unless it failed, upserts its
// role, in one transaction.
func (s *DB) FinishPlan(ctx context.Context, sess store.Session, r store.Role) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := finishSession(ctx, tx, sess); err != nil {
			return err
		}
		if sess.Status == "failed" {
			return nil
		}
		specJSON, err := json.Marshal(r.Spec)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
INSERT INTO stile_roles (resource, label, role_name, spec, last_plan_sid, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (resource, label) DO UPDATE SET role_name = excluded.role_name, spec = excluded.spec,
    last_plan_sid = excluded.last_plan_sid, status = excluded.status, updated_at = excluded.updated_at`,
			r.Resource, r.Label, r.RoleName, specJSON, sess.SID, sess.Status, now())
		if isFK(err) {
			return errs.New(errs.NotFound, "resource %q is not in the inventory", r.Resource)
		}
		if err != nil {
			return fmt.Errorf("record role %s: %w", r.RoleName, err)
		}
		return nil
	})
}

// Session returns one session or errs.NotFound.
func (s *DB) Session(ctx context.Context, sid string) (store.Session, error) {
	sess, err := scanSession(s.pool.QueryRow(ctx, "SELECT "+sessionCols+" FROM stile_sessions WHERE sid = $1", sid))
	if err != nil {
		return sess, notFound(err, "session %s does not exist", sid)
	}
	return sess, nil
}

// Sessions lists sessions newest first.
func (s *DB) Sessions(ctx context.Context, f store.SessionFilter) ([]store.Session, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	for _, c := range []struct{ col, v string }{{"resource", f.Resource}, {"kind", f.Kind}, {"status", f.Status}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", f.Since)
	}
	q := "SELECT " + sessionCols + " FROM stile_sessions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, min(limit, 1000))
	q += " ORDER BY created_at DESC, sid COLLATE \"C\" DESC LIMIT $" + strconv.Itoa(len(args))
	return queryAll(ctx, s, "list sessions", scanSession, q, args...)
}

// FailRunning marks running sessions failed.
func (s *DB) FailRunning(ctx context.Context, msg string, before time.Time, replica string) (int, error) {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_sessions SET status = 'failed', exit_code = 1, message = $1, finished_at = $2 WHERE status = 'running' AND (created_at < $3 OR (replica = $4 AND replica <> ''))", msg, now(), before, replica)
	if err != nil {
		return 0, fmt.Errorf("fail running sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ClaimPlan marks a plan consumed by apply session sess and records sess.
// The plan's row is locked for the check, so concurrent claims from any
// replica serialize and exactly one wins.
func (s *DB) ClaimPlan(ctx context.Context, planSID string, sess store.Session) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var kind, status, resource, appliedBy string
		err := tx.QueryRow(ctx, "SELECT kind, status, resource, applied_by FROM stile_sessions WHERE sid = $1 FOR UPDATE", planSID).Scan(&kind, &status, &resource, &appliedBy)
		if err != nil {
			return notFound(err, "plan %s does not exist", planSID)
		}
		switch {
		case kind != store.KindPlan:
			return errs.New(errs.Conflict, "session %s is a %s session, not a plan", planSID, kind)
		case status != "out-of-sync" && status != "in-sync":
			return errs.New(errs.Conflict, "plan %s did not succeed (status %s)", planSID, status)
		case resource != sess.Resource:
			return errs.New(errs.Conflict, "plan %s is for resource %q, not %q", planSID, resource, sess.Resource)
		case appliedBy != "":
			return errs.New(errs.Conflict, "plan %s was already applied by %s", planSID, appliedBy)
		}
		// One apply of a role at a time: the pending password has one slot
		// per role, and a second apply would overwrite the first's before
		// its COMMIT promotes it. The role's row lock serializes the check
		// across replicas.
		if _, err := tx.Exec(ctx, "SELECT 1 FROM stile_roles WHERE resource = $1 AND label = $2 FOR UPDATE", sess.Resource, sess.Label); err != nil {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		var running string
		err = tx.QueryRow(ctx, "SELECT sid FROM stile_sessions WHERE kind = $1 AND status = 'running' AND resource = $2 AND label = $3 LIMIT 1", store.KindApply, sess.Resource, sess.Label).Scan(&running)
		if err == nil {
			return errs.New(errs.Conflict, "role %s is being applied (session %s): wait for it to end, then re-plan", sess.Role, running)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		if _, err := tx.Exec(ctx, "UPDATE stile_sessions SET applied_by = $1 WHERE sid = $2", sess.SID, planSID); err != nil {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		return insertSession(ctx, tx, sess)
	})
}

// FinishApply finishes an apply session, updates its role and handles the
// pending password, in one transaction.
func (s *DB) FinishApply(ctx context.Context, sess store.Session, resource, label string, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := finishSession(ctx, tx, sess); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE stile_roles SET last_apply_sid = $1, status = $2, updated_at = $3 WHERE resource = $4 AND label = $5", sess.SID, sess.Status, now(), resource, label); err != nil {
			return fmt.Errorf("record apply of %s: %w", label, err)
		}
		return resolve(ctx, tx, resource, label, pw)
	})
}
