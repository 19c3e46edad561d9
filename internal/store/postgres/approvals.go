package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// SetApprovalRequired marks a resource role as needing approval.
func (s *DB) SetApprovalRequired(ctx context.Context, role string, on bool) error {
	q := "DELETE FROM stile_approval_required WHERE role_name = $1"
	if on {
		q = "INSERT INTO stile_approval_required (role_name) VALUES ($1) ON CONFLICT DO NOTHING"
	}
	_, err := s.pool.Exec(ctx, q, role)
	return err
}

// ApprovalRequired reports whether a role needs approval.
func (s *DB) ApprovalRequired(ctx context.Context, role string) (bool, error) {
	var on bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM stile_approval_required WHERE role_name = $1)", role).Scan(&on)
	return on, err
}

const approvalCols = "id, role_name, user_name, database, status, created_at, decided_by"

func scanApproval(row pgx.Row) (store.Approval, error) {
	var a store.Approval
	err := row.Scan(&a.ID, &a.Role, &a.User, &a.Database, &a.Status, &a.CreatedAt, &a.DecidedBy)
	a.CreatedAt = a.CreatedAt.UTC()
	return a, err
}

// CreateApproval records a request.
func (s *DB) CreateApproval(ctx context.Context, a store.Approval) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_approvals ("+approvalCols+") VALUES ($1, $2, $3, $4, $5, $6, '')", a.ID, a.Role, a.User, a.Database, a.Status, a.CreatedAt)
	return err
}

// Approval returns one request.
func (s *DB) Approval(ctx context.Context, id string) (store.Approval, error) {
	a, err := scanApproval(s.pool.QueryRow(ctx, "SELECT "+approvalCols+" FROM stile_approvals WHERE id = $1", id))
	if err != nil {
		return a, notFound(err, "approval %s does not exist", id)
	}
	return a, nil
}

// Approvals lists requests.
func (s *DB) Approvals(ctx context.Context, status string) ([]store.Approval, error) {
	if status == "" {
		return queryAll(ctx, s, "list approvals", scanApproval, "SELECT "+approvalCols+" FROM stile_approvals ORDER BY created_at DESC, id COLLATE \"C\"")
	}
	return queryAll(ctx, s, "list approvals", scanApproval, "SELECT "+approvalCols+" FROM stile_approvals WHERE status = $1 ORDER BY created_at DESC, id COLLATE \"C\"", status)
}

// DecideApproval moves a request from one status to another.
func (s *DB) DecideApproval(ctx context.Context, id, from, to, by string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_approvals SET status = $1, decided_by = CASE WHEN $2 = '' THEN decided_by ELSE $2 END WHERE id = $3 AND status = $4", to, by, id, from)
	if err != nil {
		return fmt.Errorf("decide approval: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.Conflict, "approval %s is not %s", id, from)
	}
	return nil
}
