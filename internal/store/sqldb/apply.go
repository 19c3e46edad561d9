package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// ClaimPlan marks a plan consumed by apply session sess and records sess.
// Where the dialect locks rows, the plan's row is locked for the check, so
// concurrent claims from any replica serialize and exactly one wins; the
// SQLite store has one connection, which serializes them as well.
func (s *DB) ClaimPlan(ctx context.Context, planSID string, sess store.Session) error {
	return s.tx(ctx, func(tx conn) error {
		var kind, status, resource, appliedBy string
		err := tx.row(ctx, "SELECT kind, status, resource, applied_by FROM {sessions} WHERE sid = ?{lock}", planSID).Scan(&kind, &status, &resource, &appliedBy)
		if err != nil {
			return notFound(err, "plan %s does not exist", planSID)
		}
		switch {
		case kind != store.KindPlan:
			return errs.New(errs.Conflict, "session %s is not a plan but %s %s session", planSID, store.Article(kind), kind)
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
		if tx.d.Lock != "" {
			if _, err := tx.exec(ctx, "SELECT 1 FROM {roles} WHERE resource = ? AND label = ?{lock}", sess.Resource, sess.Label); err != nil {
				return fmt.Errorf("claim plan %s: %w", planSID, err)
			}
		}
		var running string
		err = tx.row(ctx, "SELECT sid FROM {sessions} WHERE kind = ? AND status = 'running' AND resource = ? AND label = ? LIMIT 1", store.KindApply, sess.Resource, sess.Label).Scan(&running)
		if err == nil {
			return errs.New(errs.Conflict, "role %s is being applied (session %s): wait for it to end, then re-plan", sess.Role, running)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		n, err := tx.affect(ctx, "UPDATE {sessions} SET applied_by = ? WHERE sid = ? AND applied_by = ''", sess.SID, planSID)
		if err != nil {
			return fmt.Errorf("claim plan %s: %w", planSID, err)
		}
		if n != 1 {
			return errs.New(errs.Conflict, "plan %s was already applied", planSID)
		}
		return insertSession(ctx, tx, sess)
	})
}

// FinishApply finishes an apply session, updates its role and handles the
// pending password, in one transaction.
func (s *DB) FinishApply(ctx context.Context, sess store.Session, r store.Role, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx conn) error {
		if err := finishSession(ctx, tx, sess); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE {roles} SET last_apply_sid = ?, status = ?, updated_at = ? WHERE resource = ? AND label = ?", sess.SID, sess.Status, tx.now(), r.Resource, r.Label); err != nil {
			return fmt.Errorf("record apply of %s: %w", r.Label, err)
		}
		if sess.Status == "applied" || sess.Status == "skipped" {
			// The applied spec is the role's declaration from now on.
			specJSON, err := json.Marshal(r.Spec)
			if err != nil {
				return err
			}
			if _, err := tx.exec(ctx, "UPDATE {roles} SET spec = ?, declared = TRUE WHERE resource = ? AND label = ?", string(specJSON), r.Resource, r.Label); err != nil {
				return fmt.Errorf("record the declaration of %s: %w", r.Label, err)
			}
		}
		return resolve(ctx, tx, r.Resource, r.Label, pw)
	})
}
