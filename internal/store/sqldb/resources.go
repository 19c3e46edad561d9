package sqldb

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// UpsertResources writes rs in one transaction, keeping the admin
// credential, agent and creation time of existing resources.
func (s *DB) UpsertResources(ctx context.Context, rs []spec.Resource, agent string) error {
	err := s.tx(ctx, func(tx conn) error {
		t := tx.now()
		for _, r := range rs {
			_, err := tx.exec(ctx, `
INSERT INTO {resources} (name, type, host, port, database, sslmode, agent, created_at, updated_at)
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

func scanResource(row scanner) (store.Resource, error) {
	var r store.Resource
	err := row.Scan(&r.Name, &r.Type, &r.Host, &r.Port, &r.Database, &r.SSLMode, &r.Agent, &r.AdminUser, &r.AdminSecret, at{&r.CreatedAt}, at{&r.UpdatedAt})
	return r, err
}

// Resources lists resources by name (bytewise, whatever the collation).
func (s *DB) Resources(ctx context.Context) ([]store.Resource, error) {
	return queryAll(ctx, s.c(), "list resources", scanResource, "SELECT "+resourceCols+" FROM {resources} ORDER BY name{C}")
}

// Resource returns one resource or errs.NotFound.
func (s *DB) Resource(ctx context.Context, name string) (store.Resource, error) {
	r, err := scanResource(s.c().row(ctx, "SELECT "+resourceCols+" FROM {resources} WHERE name = ?", name))
	if err != nil {
		return r, notFound(err, "resource %q is not in the inventory", name)
	}
	return r, nil
}

// SetAdmin stores a resource's admin user, sealed password and agent.
func (s *DB) SetAdmin(ctx context.Context, name, user, sealed, agent string) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {resources} SET admin_user = ?, admin_secret = ?, agent = ?, updated_at = ? WHERE name = ?", user, sealed, agent, c.now(), name)
	if err != nil {
		return fmt.Errorf("set admin of %s: %w", name, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}

// DeleteResource removes a resource and, by cascade, its roles.
func (s *DB) DeleteResource(ctx context.Context, name string) error {
	n, err := s.c().affect(ctx, "DELETE FROM {resources} WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete resource %s: %w", name, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "resource %q is not in the inventory", name)
	}
	return nil
}
