package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// UpsertResources writes rs in one transaction, keeping the admin
// credential, agent and creation time of existing resources.
func (s *DB) UpsertResources(ctx context.Context, rs []spec.Resource, agent string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		t := now()
		for _, r := range rs {
			_, err := tx.ExecContext(ctx, `
INSERT INTO resources (name, type, host, port, database, sslmode, agent, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET type = excluded.type, host = excluded.host, port = excluded.port,
    database = excluded.database, sslmode = excluded.sslmode, updated_at = excluded.updated_at`,
				r.Name, r.Type, r.Host, r.Port, r.Database, r.SSLMode, agent, t, t)
			if err != nil {
				return fmt.Errorf("resource %s: %w", r.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert resources: %w", err)
	}
	return nil
}

const resourceCols = "name, type, host, port, database, sslmode, agent, admin_user, admin_secret, created_at, updated_at"

func scanResource(row interface{ Scan(...any) error }) (store.Resource, error) {
	var r store.Resource
	var created, updated string
	err := row.Scan(&r.Name, &r.Type, &r.Host, &r.Port, &r.Database, &r.SSLMode, &r.Agent, &r.AdminUser, &r.AdminSecret, &created, &updated)
	r.CreatedAt, r.UpdatedAt = parseTS(created), parseTS(updated)
	return r, err
}

// Resources lists resources by name.
func (s *DB) Resources(ctx context.Context) ([]store.Resource, error) {
	return queryAll(ctx, s.db, "list resources", scanResource, "SELECT "+resourceCols+" FROM resources ORDER BY name")
}

// Resource returns one resource or errs.NotFound.
func (s *DB) Resource(ctx context.Context, name string) (store.Resource, error) {
	r, err := scanResource(s.db.QueryRowContext(ctx, "SELECT "+resourceCols+" FROM resources WHERE name = ?", name))
	if err != nil {
		return r, notFound(err, "resource %q is not in the inventory", name)
	}
	return r, nil
}

// SetAdmin stores a resource's admin user, sealed password and agent.
func (s *DB) SetAdmin(ctx context.Context, name, user, sealed, agent string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE resources SET admin_user = ?, admin_secret = ?, agent = ?, updated_at = ? WHERE name = ?", user, sealed, agent, now(), name)
	if err != nil {
		return fmt.Errorf("set admin of %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}

const roleCols = "resource, label, role_name, spec, password_current, password_pending, last_plan_sid, last_apply_sid, status, created_at, updated_at"

func scanRole(row interface{ Scan(...any) error }) (store.Role, error) {
	var r store.Role
	var specJSON, created, updated string
	err := row.Scan(&r.Resource, &r.Label, &r.RoleName, &specJSON, &r.PasswordCurrent, &r.PasswordPending, &r.LastPlanSID, &r.LastApplySID, &r.Status, &created, &updated)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt = parseTS(created), parseTS(updated)
	if err := json.Unmarshal([]byte(specJSON), &r.Spec); err != nil {
		return r, fmt.Errorf("decode role spec: %w", err)
	}
	return r, nil
}

// Roles lists the roles of resource (of all resources when empty).
func (s *DB) Roles(ctx context.Context, resource string) ([]store.Role, error) {
	q, args := "SELECT "+roleCols+" FROM roles ORDER BY resource, label", []any{}
	if resource != "" {
		q, args = "SELECT "+roleCols+" FROM roles WHERE resource = ? ORDER BY label", []any{resource}
	}
	return queryAll(ctx, s.db, "list roles", scanRole, q, args...)
}

// Role returns one role or errs.NotFound.
func (s *DB) Role(ctx context.Context, resource, label string) (store.Role, error) {
	r, err := scanRole(s.db.QueryRowContext(ctx, "SELECT "+roleCols+" FROM roles WHERE resource = ? AND label = ?", resource, label))
	if err != nil {
		return r, notFound(err, "role %q of %s does not exist", label, resource)
	}
	return r, nil
}

// RoleByName finds a role by its PostgreSQL name.
func (s *DB) RoleByName(ctx context.Context, roleName string) (store.Role, error) {
	r, err := scanRole(s.db.QueryRowContext(ctx, "SELECT "+roleCols+" FROM roles WHERE role_name = ?", roleName))
	if err != nil {
		return r, notFound(err, "role %q does not exist", roleName)
	}
	return r, nil
}

// SetPendingPassword stores a sealed pending password.
func (s *DB) SetPendingPassword(ctx context.Context, resource, label, sealed string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE roles SET password_pending = ?, updated_at = ? WHERE resource = ? AND label = ?", sealed, now(), resource, label)
	if err != nil {
		return fmt.Errorf("pending password: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}

// PendingPasswords lists roles with a pending password.
func (s *DB) PendingPasswords(ctx context.Context) ([]store.Role, error) {
	return queryAll(ctx, s.db, "pending passwords", scanRole, "SELECT "+roleCols+" FROM roles WHERE password_pending <> '' ORDER BY resource, label")
}

// ResolvePending promotes or drops a pending password.
func (s *DB) ResolvePending(ctx context.Context, resource, label string, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx *sql.Tx) error { return resolve(ctx, tx, resource, label, pw) })
}

func resolve(ctx context.Context, tx *sql.Tx, resource, label string, pw store.PasswordAction) error {
	var q string
	switch pw {
	case store.PromotePending:
		q = "UPDATE roles SET password_current = password_pending, password_pending = '' WHERE resource = ? AND label = ? AND password_pending <> ''"
	case store.DropPending:
		q = "UPDATE roles SET password_pending = '' WHERE resource = ? AND label = ?"
	default:
		return nil
	}
	if _, err := tx.ExecContext(ctx, q, resource, label); err != nil {
		return fmt.Errorf("resolve pending password: %w", err)
	}
	return nil
}

// DeleteResource removes a resource and, by cascade, its roles.
func (s *DB) DeleteResource(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM resources WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete resource %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}

// DeleteRole forgets a retired role.
func (s *DB) DeleteRole(ctx context.Context, resource, label string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM roles WHERE resource = ? AND label = ?", resource, label)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}
