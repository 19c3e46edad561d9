package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/spec"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const sessionCols = "sid, kind, resource, role, label, actor, agent, created_at, finished_at, status, exit_code, message, input, output, document, checksum, plan_sid, applied_by, replica, chain_seq, chain_hash"

func scanSession(row scanner) (store.Session, error) {
	var s store.Session
	err := row.Scan(&s.SID, &s.Kind, &s.Resource, &s.Role, &s.Label, &s.Actor, &s.Agent, at{&s.CreatedAt}, at{&s.FinishedAt}, &s.Status, &s.ExitCode, &s.Message, &s.Input, &s.Output, &s.Document, &s.Checksum, &s.PlanSID, &s.AppliedBy, &s.Replica, &s.ChainSeq, &s.ChainHash)
	return s, err
}

// insertSession records s; a finished one joins the audit chain unless it
// has its place already (a store being loaded).
func insertSession(ctx context.Context, tx conn, s store.Session) error {
	_, err := tx.exec(ctx, "INSERT INTO {sessions} ("+sessionCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		s.SID, s.Kind, s.Resource, s.Role, s.Label, s.Actor, s.Agent, tx.tm(s.CreatedAt), tx.tm(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.PlanSID, s.AppliedBy, s.Replica, s.ChainSeq, s.ChainHash)
	if err != nil {
		return fmt.Errorf("record session %s: %w", s.SID, err)
	}
	if s.Status != "running" && s.ChainSeq == 0 {
		*tx.finished = append(*tx.finished, s.SID)
	}
	return nil
}

// finishSession records s's end; a session finishes once (its record is
// then in the audit chain and must not change).
func finishSession(ctx context.Context, tx conn, s store.Session) error {
	n, err := tx.affect(ctx, `UPDATE {sessions} SET finished_at = ?, status = ?, exit_code = ?, message = ?, input = ?, output = ?, document = ?, checksum = ? WHERE sid = ? AND chain_seq = 0`,
		tx.tm(s.FinishedAt), s.Status, s.ExitCode, s.Message, s.Input, s.Output, s.Document, s.Checksum, s.SID)
	if err != nil {
		return fmt.Errorf("finish session %s: %w", s.SID, err)
	}
	if n == 0 {
		var status string
		if err := tx.row(ctx, "SELECT status FROM {sessions} WHERE sid = ?", s.SID).Scan(&status); err != nil {
			return notFound(err, "session %s does not exist", s.SID)
		}
		return errs.New(errs.Conflict, "session %s has finished already (%s)", s.SID, status)
	}
	*tx.finished = append(*tx.finished, s.SID)
	return nil
}

// CreateSession records a session.
func (s *DB) CreateSessions(ctx context.Context, sessions ...store.Session) error {
	return s.tx(ctx, func(tx conn) error {
		for _, sess := range sessions {
			if err := insertSession(ctx, tx, sess); err != nil {
				return err
			}
		}
		return nil
	})
}

// FinishSession records a session's end.
func (s *DB) FinishSession(ctx context.Context, sess store.Session) error {
	return s.tx(ctx, func(tx conn) error { return finishSession(ctx, tx, sess) })
}

// FinishPlans finishes plan sessions and, for each that did not fail and
// names a role, upserts the role, all in one transaction.
func (s *DB) FinishPlans(ctx context.Context, done ...store.PlanFinish) error {
	return s.tx(ctx, func(tx conn) error {
		for _, d := range done {
			if err := s.finishPlan(ctx, tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *DB) finishPlan(ctx context.Context, tx conn, d store.PlanFinish) error {
	sess := d.Session
	if err := finishSession(ctx, tx, sess); err != nil {
		return err
	}
	if sess.Status == "failed" || d.Role == nil {
		return nil
	}
	r := *d.Role
	specJSON, err := json.Marshal(r.Spec)
	if err != nil {
		return err
	}
	t := tx.now()
	var curJSON []byte
	var declared bool
	err = tx.row(ctx, "SELECT spec, declared FROM {roles} WHERE resource = ? AND label = ?{lock}", r.Resource, r.Label).Scan(&curJSON, &declared)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// A plan on another replica may insert it first: then this one
		// only records its sid.
		_, err = tx.exec(ctx, `INSERT INTO {roles} (resource, label, role_name, spec, last_plan_sid, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (resource, label) DO UPDATE SET last_plan_sid = excluded.last_plan_sid, updated_at = excluded.updated_at`,
			r.Resource, r.Label, r.RoleName, string(specJSON), sess.SID, sess.Status, t, t)
		if err != nil && s.d.ForeignKey(err) {
			return errs.New(errs.NotFound, "resource %q is not in the inventory", r.Resource)
		}
	case err != nil:
	case !declared:
		// Never applied: the latest plan is the intent.
		_, err = tx.exec(ctx, "UPDATE {roles} SET role_name = ?, spec = ?, last_plan_sid = ?, status = ?, updated_at = ? WHERE resource = ? AND label = ?",
			r.RoleName, string(specJSON), sess.SID, sess.Status, t, r.Resource, r.Label)
	case sameSpec(curJSON, r.Spec):
		// A plan of the declaration: a drift check, whose status counts.
		_, err = tx.exec(ctx, "UPDATE {roles} SET last_plan_sid = ?, status = ?, updated_at = ? WHERE resource = ? AND label = ?",
			sess.SID, sess.Status, t, r.Resource, r.Label)
	default:
		// Another spec: an exploratory plan, pending until applied; the
		// declaration and its status stay.
		_, err = tx.exec(ctx, "UPDATE {roles} SET last_plan_sid = ?, updated_at = ? WHERE resource = ? AND label = ?",
			sess.SID, t, r.Resource, r.Label)
	}
	if err != nil {
		return fmt.Errorf("record role %s: %w", r.RoleName, err)
	}
	return nil
}

// sameSpec reports whether the stored spec (JSON) declares what r does.
func sameSpec(stored []byte, r spec.Role) bool {
	var cur spec.Role
	if json.Unmarshal(stored, &cur) != nil {
		return false
	}
	a, _ := json.Marshal(cur)
	b, _ := json.Marshal(r)
	return string(a) == string(b)
}

// Session returns one session or errs.NotFound.
func (s *DB) Session(ctx context.Context, sid string) (store.Session, error) {
	sess, err := scanSession(s.c().row(ctx, "SELECT "+sessionCols+" FROM {sessions} WHERE sid = ?", sid))
	if err != nil {
		return sess, notFound(err, "session %s does not exist", sid)
	}
	return sess, nil
}

// Sessions lists sessions newest first.
func (s *DB) Sessions(ctx context.Context, f store.SessionFilter) ([]store.Session, error) {
	c := s.c()
	var where []string
	var args []any
	for _, col := range []struct{ name, v string }{{"resource", f.Resource}, {"kind", f.Kind}, {"status", f.Status}} {
		if col.v != "" {
			where = append(where, col.name+" = ?")
			args = append(args, col.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, c.tm(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, c.tm(f.Until))
	}
	q := "SELECT " + sessionCols + " FROM {sessions}"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += " ORDER BY created_at DESC, sid{C} DESC LIMIT ?"
	args = append(args, min(limit, 1000))
	return queryAll(ctx, c, "list sessions", scanSession, q, args...)
}

// FailRunning marks running sessions failed.
func (s *DB) FailRunning(ctx context.Context, msg string, before time.Time, replica string, connections bool) (int, error) {
	spare := store.KindConnect
	if connections {
		spare = ""
	}
	var n int
	err := s.tx(ctx, func(tx conn) error {
		sids, err := queryAll(ctx, tx, "fail running sessions", scanString,
			"UPDATE {sessions} SET status = 'failed', exit_code = 1, message = ?, finished_at = ? WHERE status = 'running' AND ((created_at < ? AND kind <> ?) OR (replica = ? AND replica <> '')) RETURNING sid",
			msg, tx.now(), tx.tm(before), spare, replica)
		if err != nil {
			return err
		}
		slices.Sort(sids)
		n = len(sids)
		*tx.finished = append(*tx.finished, sids...)
		return nil
	})
	return n, err
}
