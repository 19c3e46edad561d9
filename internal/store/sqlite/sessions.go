package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const sessionCols = "sid, kind, resource, role, label, actor, agent, created_at, finished_at, status, exit_code, message, input, output, document, checksum, plan_sid, applied_by, replica"

func scanSession(row interface{ Scan(...any) error }) (store.Session, error) {
	var s store.Session
	var created, finished string
	err := row.Scan(&s.SID, &s.Kind, &s.Resource, &s.Role, &s.Label, &s.Actor, &s.Agent, &created, &finished, &s.Status, &s.ExitCode, &s.Message, &s.Input, &s.Output, &s.Document, &s.Checksum, &s.PlanSID, &s.AppliedBy, &s.Replica)
	s.CreatedAt, s.FinishedAt = parseTS(created), parseTS(finished)
	return s, err
}

func insertSession(ctx context.Context, tx *sql.Tx, s store.Session) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO sessions ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.SID, s.Kind, s.Resource, s.Role, s.Label, s.Actor, s.Agent, ts(s.CreatedAt), ts(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.PlanSID, s.AppliedBy, s.Replica)
	if err != nil {
		return fmt.Errorf("record session %s: %w", s.SID, err)
	}
	return nil
}

func finishSession(ctx context.Context, tx *sql.Tx, s store.Session) error {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET finished_at = ?, status = ?, exit_code = ?, message = ?, input = ?, output = ?, document = ?, checksum = ? WHERE sid = ?`,
		ts(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.SID)
	if err != nil {
		return fmt.Errorf("finish session %s: %w", s.SID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "session %s does not exist", s.SID)
	}
	return nil
}

// CreateSession records a session.
func (s *DB) CreateSession(ctx context.Context, sess store.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return insertSession(ctx, tx, sess) })
}

// FinishSession records a session's end.
func (s *DB) FinishSession(ctx context.Context, sess store.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return finishSession(ctx, tx, sess) })
}

// FinishPlan finishes a plan session and, unless it failed, upserts its
// role, in one transaction.
func (s *DB) FinishPlan(ctx context.Context, sess store.Session, r store.Role) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
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
		t := now()
		_, err = tx.ExecContext(ctx, `
INSERT INTO roles (resource, label, role_name, spec, last_plan_sid, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (resource, label) DO UPDATE SET role_name = excluded.role_name, spec = excluded.spec,
    last_plan_sid = excluded.last_plan_sid, status = excluded.status, updated_at = excluded.updated_at`,
			r.Resource, r.Label, r.RoleName, string(specJSON), sess.SID, sess.Status, t, t)
		if err != nil && strings.Contains(err.Error(), "FOREIGN KEY") {
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
	sess, err := scanSession(s.db.QueryRowContext(ctx, "SELECT "+sessionCols+" FROM sessions WHERE sid = ?", sid))
	if err != nil {
		return sess, notFound(err, "session %s does not exist", sid)
	}
	return sess, nil
}

// Sessions lists sessions newest first.
func (s *DB) Sessions(ctx context.Context, f store.SessionFilter) ([]store.Session, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"resource", f.Resource}, {"kind", f.Kind}, {"status", f.Status}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, ts(f.Since))
	}
	q := "SELECT " + sessionCols + " FROM sessions"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY created_at DESC, sid DESC LIMIT ?"
	args = append(args, min(limit, 1000))
	return queryAll(ctx, s.db, "list sessions", scanSession, q, args...)
}

// FailRunning marks running sessions failed.
func (s *DB) FailRunning(ctx context.Context, msg string, before time.Time, replica string) (int, error) {
	res, err := s.db.ExecContext(ctx, "UPDATE sessions SET status = 'failed', exit_code = 1, message = ?, finished_at = ? WHERE status = 'running' AND (created_at < ? OR (replica = ? AND replica <> ''))", msg, now(), ts(before), replica)
	if err != nil {
		return 0, fmt.Errorf("fail running sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ClaimPlan marks a plan consumed by apply session sess and records sess.
func (s *DB) ClaimPlan(ctx context.Context, planSID string, sess store.Session) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var kind, status, resource, appliedBy string
		err := tx.QueryRowContext(ctx, "SELECT kind, status, resource, applied_by FROM sessions WHERE sid = ?", planSID).Scan(&kind, &status, &resource, &appliedBy)
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
		// One apply of a role at a time (the store has one connection, so
		// this check and the insert below are atomic): the pending password
		// has one slot per role, and a second apply would overwrite the
		// first's before its COMMIT promotes it.
		var running string
		err = tx.QueryRowContext(ctx, "SELECT sid FROM sessions WHERE kind = ? AND status = 'running' AND resource = ? AND label = ? LIMIT 1", store.KindApply, sess.Resource, sess.Label).Scan(&running)
		if err == nil {
			return errs.New(errs.Conflict, "role %s is being applied (session %s): wait for it to end, then re-plan", sess.Role, running)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		res, err := tx.ExecContext(ctx, "UPDATE sessions SET applied_by = ? WHERE sid = ? AND applied_by = ''", sess.SID, planSID)
		if err != nil {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errs.New(errs.Conflict, "plan %s was already applied", planSID)
		}
		return insertSession(ctx, tx, sess)
	})
}

// FinishApply finishes an apply session, updates its role and handles the
// pending password, in one transaction.
func (s *DB) FinishApply(ctx context.Context, sess store.Session, resource, label string, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := finishSession(ctx, tx, sess); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE roles SET last_apply_sid = ?, status = ?, updated_at = ? WHERE resource = ? AND label = ?", sess.SID, sess.Status, now(), resource, label); err != nil {
			return fmt.Errorf("record apply of %s: %w", label, err)
		}
		return resolve(ctx, tx, resource, label, pw)
	})
}
