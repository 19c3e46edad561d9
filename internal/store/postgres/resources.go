package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// UpsertResources writes rs in one transaction, keeping the admin
// credential, agent and creation time of existing resources.
func (s *DB) UpsertResources(ctx context.Context, rs []spec.Resource, agent string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		t := now()
		for _, r := range rs {
			_, err := tx.Exec(ctx, `
INSERT INTO stile_resources (name, type, host, port, database, sslmode, agent, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (name) DO UPDATE SET type = excluded.type, host = excluded.host, port = excluded.port,
    database = excluded.database, sslmode = excluded.sslmode, updated_at = excluded.updated_at`,
				r.Name, r.Type, r.Host, r.Port, r.Database, r.SSLMode, agent, t)
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

func scanResource(row pgx.Row) (store.Resource, error) {
	var r store.Resource
	err := row.Scan(&r.Name, &r.Type, &r.Host, &r.Port, &r.Database, &r.SSLMode, &r.Agent, &r.AdminUser, &r.AdminSecret, &r.CreatedAt, &r.UpdatedAt)
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, err
}

// Resources lists resources by name (bytewise, whatever the collation).
func (s *DB) Resources(ctx context.Context) ([]store.Resource, error) {
	return queryAll(ctx, s, "list resources", scanResource, "SELECT "+resourceCols+" FROM stile_resources ORDER BY name COLLATE \"C\"")
}

// Resource returns one resource or errs.NotFound.
func (s *DB) Resource(ctx context.Context, name string) (store.Resource, error) {
	r, err := scanResource(s.pool.QueryRow(ctx, "SELECT "+resourceCols+" FROM stile_resources WHERE name = $1", name))
	if err != nil {
		return r, notFound(err, "resource %q is not in the inventory", name)
	}
	return r, nil
}

// SetAdmin stores a resource's admin user, sealed password and agent.
func (s *DB) SetAdmin(ctx context.Context, name, user, sealed, agent string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_resources SET admin_user = $1, admin_secret = $2, agent = $3, updated_at = $4 WHERE name = $5", user, sealed, agent, now(), name)
	if err != nil {
		return fmt.Errorf("set admin of %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}

// DeleteResource removes a resource and, by cascade, its roles.
func (s *DB) DeleteResource(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM stile_resources WHERE name = $1", name)
	if err != nil {
		return fmt.Errorf("delete resource %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}

const roleCols = "resource, label, role_name, spec, password_current, password_pending, last_plan_sid, last_apply_sid, status, created_at, updated_at"

func scanRole(row pgx.Row) (store.Role, error) {
	var r store.Role
	var specJSON []byte
	err := row.Scan(&r.Resource, &r.Label, &r.RoleName, &specJSON, &r.PasswordCurrent, &r.PasswordPending, &r.LastPlanSID, &r.LastApplySID, &r.Status, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if err := json.Unmarshal(specJSON, &r.Spec); err != nil {
		return r, fmt.Errorf("decode role spec: %w", err)
	}
	return r, nil
}

// Roles lists the roles of resource (of all resources when empty).
func (s *DB) Roles(ctx context.Context, resource string) ([]store.Role, error) {
	if resource == "" {
		return queryAll(ctx, s, "list roles", scanRole, "SELECT "+roleCols+" FROM stile_roles ORDER BY resource COLLATE \"C\", label COLLATE \"C\"")
	}
	return queryAll(ctx, s, "list roles", scanRole, "SELECT "+roleCols+" FROM stile_roles WHERE resource = $1 ORDER BY label COLLATE \"C\"", resource)
}

// Role returns one role or errs.NotFound.
func (s *DB) Role(ctx context.Context, resource, label string) (store.Role, error) {
	r, err := scanRole(s.pool.QueryRow(ctx, "SELECT "+roleCols+" FROM stile_roles WHERE resource = $1 AND label = $2", resource, label))
	if err != nil {
		return r, notFound(err, "role %q of %s does not exist", label, resource)
	}
	return r, nil
}

// RoleByName finds a role by its PostgreSQL name.
func (s *DB) RoleByName(ctx context.Context, roleName string) (store.Role, error) {
	r, err := scanRole(s.pool.QueryRow(ctx, "SELECT "+roleCols+" FROM stile_roles WHERE role_name = $1", roleName))
	if err != nil {
		return r, notFound(err, "role %q does not exist", roleName)
	}
	return r, nil
}

// SetPendingPassword stores a sealed pending password.
func (s *DB) SetPendingPassword(ctx context.Context, resource, label, sealed string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_roles SET password_pending = $1, updated_at = $2 WHERE resource = $3 AND label = $4", sealed, now(), resource, label)
	if err != nil {
		return fmt.Errorf("pending password: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}

// PendingPasswords lists roles with a pending password.
func (s *DB) PendingPasswords(ctx context.Context) ([]store.Role, error) {
	return queryAll(ctx, s, "pending passwords", scanRole, "SELECT "+roleCols+" FROM stile_roles WHERE password_pending <> '' ORDER BY resource COLLATE \"C\", label COLLATE \"C\"")
}

// ResolvePending promotes or drops a pending password.
func (s *DB) ResolvePending(ctx context.Context, resource, label string, pw store.PasswordAction) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return resolve(ctx, tx, resource, label, pw) })
}

func resolve(ctx context.Context, tx pgx.Tx, resource, label string, pw store.PasswordAction) error {
	var q string
	switch pw {
	case store.PromotePending:
		q = "UPDATE stile_roles SET password_current = password_pending, password_pending = '' WHERE resource = $1 AND label = $2 AND password_pending <> ''"
	case store.DropPending:
		q = "UPDATE stile_roles SET password_pending = '' WHERE resource = $1 AND label = $2"
	default:
		return nil
	}
	if _, err := tx.Exec(ctx, q, resource, label); err != nil {
		return fmt.Errorf("resolve pending password: %w", err)
	}
	return nil
}

// DeleteRole forgets a retired role.
func (s *DB) DeleteRole(ctx context.Context, resource, label string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM stile_roles WHERE resource = $1 AND label = $2", resource, label)
	if err != nil {
		return fmt.Errorf("delete role: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "role %q of %s does not exist", label, resource)
	}
	return nil
}
