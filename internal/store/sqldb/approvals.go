package sqldb

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// SetApprovalRequired marks a resource role as needing approval.
func (s *DB) SetApprovalRequired(ctx context.Context, role string, on bool) error {
	q := "DELETE FROM {approval_required} WHERE role_name = ?"
	if on {
		q = "INSERT INTO {approval_required} (role_name) VALUES (?) ON CONFLICT DO NOTHING"
	}
	_, err := s.c().exec(ctx, q, role)
	return err
}

// ApprovalRequired reports whether a role needs approval.
func (s *DB) ApprovalRequired(ctx context.Context, role string) (bool, error) {
	var n int
	err := s.c().row(ctx, "SELECT count(*) FROM {approval_required} WHERE role_name = ?", role).Scan(&n)
	return n > 0, err
}

const approvalCols = "id, role_name, user_name, database, status, created_at, decided_by"

func scanApproval(row scanner) (store.Approval, error) {
	var a store.Approval
	err := row.Scan(&a.ID, &a.Role, &a.User, &a.Database, &a.Status, at{&a.CreatedAt}, &a.DecidedBy)
	return a, err
}

// CreateApproval records a request.
func (s *DB) CreateApproval(ctx context.Context, a store.Approval) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {approvals} ("+approvalCols+") VALUES (?, ?, ?, ?, ?, ?, '')", a.ID, a.Role, a.User, a.Database, a.Status, c.tm(a.CreatedAt))
	return err
}

// Approval returns one request.
func (s *DB) Approval(ctx context.Context, id string) (store.Approval, error) {
	a, err := scanApproval(s.c().row(ctx, "SELECT "+approvalCols+" FROM {approvals} WHERE id = ?", id))
	if err != nil {
		return a, notFound(err, "approval %s does not exist", id)
	}
	return a, nil
}

// Approvals lists requests.
func (s *DB) Approvals(ctx context.Context, status string) ([]store.Approval, error) {
	if status == "" {
		return queryAll(ctx, s.c(), "list approvals", scanApproval, "SELECT "+approvalCols+" FROM {approvals} ORDER BY created_at DESC, id{C}")
	}
	return queryAll(ctx, s.c(), "list approvals", scanApproval, "SELECT "+approvalCols+" FROM {approvals} WHERE status = ? ORDER BY created_at DESC, id{C}", status)
}

// DecideApproval moves a request from one status to another.
func (s *DB) DecideApproval(ctx context.Context, id, from, to, by string) error {
	n, err := s.c().affect(ctx, "UPDATE {approvals} SET status = ?, decided_by = CASE WHEN ? = '' THEN decided_by ELSE ? END WHERE id = ? AND status = ?", to, by, by, id, from)
	if err != nil {
		return fmt.Errorf("decide approval: %w", err)
	}
	if n == 0 {
		return errs.New(errs.Conflict, "approval %s is not %s", id, from)
	}
	return nil
}
