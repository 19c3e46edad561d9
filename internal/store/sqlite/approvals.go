package sqlite

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// SetApprovalRequired marks a resource role as needing approval.
func (s *DB) SetApprovalRequired(ctx context.Context, role string, on bool) error {
	q := "DELETE FROM approval_required WHERE role_name = ?"
	if on {
		q = "INSERT OR IGNORE INTO approval_required (role_name) VALUES (?)"
	}
	_, err := s.db.ExecContext(ctx, q, role)
	return err
}

// ApprovalRequired reports whether a role needs approval.
func (s *DB) ApprovalRequired(ctx context.Context, role string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM approval_required WHERE role_name = ?", role).Scan(&n)
	return n > 0, err
}

const approvalCols = "id, role_name, user_name, database, status, created_at, decided_by"

func scanApproval(row interface{ Scan(...any) error }) (store.Approval, error) {
	var a store.Approval
	var created string
	err := row.Scan(&a.ID, &a.Role, &a.User, &a.Database, &a.Status, &created, &a.DecidedBy)
	a.CreatedAt = parseTS(created)
	return a, err
}

// CreateApproval records a request.
func (s *DB) CreateApproval(ctx context.Context, a store.Approval) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO approvals ("+approvalCols+") VALUES (?, ?, ?, ?, ?, ?, '')", a.ID, a.Role, a.User, a.Database, a.Status, ts(a.CreatedAt))
	return err
}

// Approval returns one request.
func (s *DB) Approval(ctx context.Context, id string) (store.Approval, error) {
	a, err := scanApproval(s.db.QueryRowContext(ctx, "SELECT "+approvalCols+" FROM approvals WHERE id = ?", id))
	if err != nil {
		return a, notFound(err, "approval %s does not exist", id)
	}
	return a, nil
}

// Approvals lists requests.
func (s *DB) Approvals(ctx context.Context, status string) ([]store.Approval, error) {
	if status == "" {
		return queryAll(ctx, s.db, "list approvals", scanApproval, "SELECT "+approvalCols+" FROM approvals ORDER BY created_at DESC, id")
	}
	return queryAll(ctx, s.db, "list approvals", scanApproval, "SELECT "+approvalCols+" FROM approvals WHERE status = ? ORDER BY created_at DESC, id", status)
}

// DecideApproval moves a request from one status to another.
func (s *DB) DecideApproval(ctx context.Context, id, from, to, by string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE approvals SET status = ?, decided_by = CASE WHEN ? = '' THEN decided_by ELSE ? END WHERE id = ? AND status = ?", to, by, by, id, from)
	if err != nil {
		return fmt.Errorf("decide approval: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.Conflict, "approval %s is not %s", id, from)
	}
	return nil
}
