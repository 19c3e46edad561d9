package sqldb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

const roleCols = "resource, label, role_name, spec, declared, password_current, password_pending, last_plan_sid, last_apply_sid, status, created_at, updated_at, password_set_at"

func scanRole(row scanner) (store.Role, error) {
	var r store.Role
	var specJSON []byte
	err := row.Scan(&r.Resource, &r.Label, &r.RoleName, &specJSON, &r.Declared, &r.PasswordCurrent, &r.PasswordPending, &r.LastPlanSID, &r.LastApplySID, &r.Status, at{&r.CreatedAt}, at{&r.UpdatedAt}, at{&r.PasswordSetAt})
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(specJSON, &r.Spec); err != nil {
		return r, fmt.Errorf("decode role spec: %w", err)
	}
	return r, nil
}

// Roles lists the roles of resource (of all resources when empty).
func (s *DB) Roles(ctx context.Context, resource string) ([]store.Role, error) {
	if resource == "" {
		return queryAll(ctx, s.c(), "list roles", scanRole, "SELECT "+roleCols+" FROM {roles} ORDER BY resource{C}, label{C}")
	}
	return queryAll(ctx, s.c(), "list roles", scanRole, "SELECT "+roleCols+" FROM {roles} WHERE resource = ? ORDER BY label{C}", resource)
}

// Role returns one role or errs.NotFound.
func (s *DB) Role(ctx context.Context, resource, label string) (store.Role, error) {
	r, err := scanRole(s.c().row(ctx, "SELECT "+roleCols+" FROM {roles} WHERE resource = ? AND label = ?", resource, label))
	if err != nil {
		return r, notFound(err, "role %q of %s does not exist", label, resource)
	}
	return r, nil
}

// RoleByName finds a role by its PostgreSQL name.
func (s *DB) RoleByName(ctx context.Context, roleName string) (store.Role, error) {
	r, err := scanRole(s.c().row(ctx, "SELECT "+roleCols+" FROM {roles} WHERE role_name = ?", roleName))
	if err != nil {
		return r, notFound(err, "role %q does not exist", roleName)
	}
	return r, nil
}

// SetPendingPassword stores a sealed pending password.
func (s *DB) SetPendingPassword(ctx context.Context, resource, label, sealed string) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {roles} SET password_pending = ?, updated_at = ? WHERE resource = ? AND label = ?", sealed, c.now(), resource, label)
	if err != nil {
		return fmt.Errorf("pending password: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}

// PendingPasswords lists roles with a pending password.
func (s *DB) PendingPasswords(ctx context.Context) ([]store.Role, error) {
	return queryAll(ctx, s.c(), "pending passwords", scanRole, "SELECT "+roleCols+" FROM {roles} WHERE password_pending <> '' ORDER BY resource{C}, label{C}")
}

// ResolvePending promotes or drops a pending password.
func (s *DB) ResolvePending(ctx context.Context, resource, label string, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx conn) error { return resolve(ctx, tx, resource, label, pw) })
}

func resolve(ctx context.Context, tx conn, resource, label string, pw store.PasswordAction) error {
	var err error
	switch pw {
	case store.PromotePending:
		_, err = tx.exec(ctx, "UPDATE {roles} SET password_current = password_pending, password_pending = '', password_set_at = ? WHERE resource = ? AND label = ? AND password_pending <> ''", tx.now(), resource, label)
	case store.DropPending:
		_, err = tx.exec(ctx, "UPDATE {roles} SET password_pending = '' WHERE resource = ? AND label = ?", resource, label)
	}
	if err != nil {
		return fmt.Errorf("resolve pending password: %w", err)
	}
	return nil
}

// DeleteRole forgets a retired role.
func (s *DB) DeleteRole(ctx context.Context, resource, label string) error {
	n, err := s.c().affect(ctx, "DELETE FROM {roles} WHERE resource = ? AND label = ?", resource, label)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}
