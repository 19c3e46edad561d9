package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stile-dev/stile/internal/store"
)

const policyCols = "role_name, max_seconds, reason_required, approvers, approvals, pending_seconds"

func scanPolicy(row scanner) (store.AccessPolicy, error) {
	var p store.AccessPolicy
	var approvers string
	err := row.Scan(&p.Role, &p.MaxSeconds, &p.ReasonRequired, &approvers, &p.Approvals, &p.PendingSeconds)
	p.Approvers = splitList(approvers)
	return p, err
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// SetPolicy sets a role's request policy.
func (s *DB) SetPolicy(ctx context.Context, p store.AccessPolicy) error {
	_, err := s.c().exec(ctx, "INSERT INTO {access_policies} ("+policyCols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (role_name) DO UPDATE SET max_seconds = excluded.max_seconds, reason_required = excluded.reason_required, approvers = excluded.approvers, approvals = excluded.approvals, pending_seconds = excluded.pending_seconds",
		p.Role, p.MaxSeconds, p.ReasonRequired, strings.Join(p.Approvers, ","), p.Approvals, p.PendingSeconds)
	return err
}

// Policy returns a role's request policy.
func (s *DB) Policy(ctx context.Context, role string) (store.AccessPolicy, error) {
	p, err := scanPolicy(s.c().row(ctx, "SELECT "+policyCols+" FROM {access_policies} WHERE role_name = ?", role))
	if err != nil {
		return p, notFound(err, "no request policy for %s", role)
	}
	return p, nil
}

// Policies lists every role's policy, by role.
func (s *DB) Policies(ctx context.Context) ([]store.AccessPolicy, error) {
	return queryAll(ctx, s.c(), "list policies", scanPolicy, "SELECT "+policyCols+" FROM {access_policies} ORDER BY role_name{C}")
}

const requestCols = "id, role_name, user_name, reason, seconds, status, approvals, reviews, created_at, expires_at, starts_at, ends_at, ended_by"

func scanRequest(row scanner) (store.AccessRequest, error) {
	var r store.AccessRequest
	var reviews string
	err := row.Scan(&r.ID, &r.Role, &r.User, &r.Reason, &r.Seconds, &r.Status, &r.Approvals, &reviews, at{&r.CreatedAt}, at{&r.ExpiresAt}, at{&r.StartsAt}, at{&r.EndsAt}, &r.EndedBy)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(reviews), &r.Reviews); err != nil {
		return r, fmt.Errorf("request %s: reviews: %w", r.ID, err)
	}
	return r, nil
}

// CreateRequest records a request and its session, in one transaction.
func (s *DB) CreateRequest(ctx context.Context, r store.AccessRequest, sess store.Session) error {
	return s.tx(ctx, func(tx conn) error {
		if err := insertRequest(ctx, tx, r); err != nil {
			return err
		}
		return insertSession(ctx, tx, sess)
	})
}

func insertRequest(ctx context.Context, tx conn, r store.AccessRequest) error {
	reviews, _ := json.Marshal(nonNil(r.Reviews))
	if _, err := tx.exec(ctx, "INSERT INTO {requests} ("+requestCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		r.ID, r.Role, r.User, r.Reason, r.Seconds, r.Status, r.Approvals, string(reviews), tx.tm(r.CreatedAt), tx.tm(r.ExpiresAt), tx.tm(r.StartsAt), tx.tm(r.EndsAt), r.EndedBy); err != nil {
		return fmt.Errorf("record request %s: %w", r.ID, err)
	}
	return nil
}

func nonNil(r []store.Review) []store.Review {
	if r == nil {
		return []store.Review{}
	}
	return r
}

// Request returns one request.
func (s *DB) Request(ctx context.Context, id string) (store.AccessRequest, error) {
	r, err := scanRequest(s.c().row(ctx, "SELECT "+requestCols+" FROM {requests} WHERE id = ?", id))
	if err != nil {
		return r, notFound(err, "request %s does not exist", id)
	}
	return r, nil
}

// Requests lists the requests f keeps, newest first.
func (s *DB) Requests(ctx context.Context, f store.RequestFilter) ([]store.AccessRequest, error) {
	var where []string
	var args []any
	c := s.c()
	if f.User != "" {
		where, args = append(where, "user_name = ?"), append(args, f.User)
	}
	if f.Role != "" {
		where, args = append(where, "role_name = ?"), append(args, f.Role)
	}
	if len(f.Status) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(f.Status)-1)+")")
		for _, st := range f.Status {
			args = append(args, st)
		}
	}
	if !f.DueBy.IsZero() {
		where = append(where, "((status = 'pending' AND expires_at <= ?) OR (status = 'approved' AND ends_at <= ?))")
		args = append(args, c.tm(f.DueBy), c.tm(f.DueBy))
	}
	q := "SELECT " + requestCols + " FROM {requests}"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id{C}"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return queryAll(ctx, c, "list requests", scanRequest, q, args...)
}

// UpdateRequest reads request id under a lock, lets change decide what
// becomes of it, and writes the request and the sessions change returns,
// in one transaction. change returning store.ErrNoChange writes nothing.
func (s *DB) UpdateRequest(ctx context.Context, id string, change func(*store.AccessRequest) ([]store.Session, error)) (store.AccessRequest, error) {
	var r store.AccessRequest
	err := s.tx(ctx, func(tx conn) error {
		var err error
		if r, err = scanRequest(tx.row(ctx, "SELECT "+requestCols+" FROM {requests} WHERE id = ?{lock}", id)); err != nil {
			return notFound(err, "request %s does not exist", id)
		}
		sessions, err := change(&r)
		if err != nil {
			return err
		}
		reviews, _ := json.Marshal(nonNil(r.Reviews))
		if _, err := tx.exec(ctx, "UPDATE {requests} SET status = ?, reviews = ?, starts_at = ?, ends_at = ?, ended_by = ? WHERE id = ?",
			r.Status, string(reviews), tx.tm(r.StartsAt), tx.tm(r.EndsAt), r.EndedBy, id); err != nil {
			return fmt.Errorf("update request %s: %w", id, err)
		}
		for _, sess := range sessions {
			if err := insertSession(ctx, tx, sess); err != nil {
				return err
			}
		}
		return nil
	})
	return r, err
}
