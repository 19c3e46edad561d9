package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

var _ store.Dumper = (*DB)(nil)

// Dump reads the whole store.
func (s *DB) Dump(ctx context.Context) (store.Dump, error) {
	d := store.Dump{Meta: map[string]string{}}
	rows, err := s.pool.Query(ctx, "SELECT key, value FROM stile_meta")
	if err != nil {
		return d, fmt.Errorf("dump meta: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return d, err
		}
		d.Meta[k] = v
	}
	rows.Close()
	if d.Resources, err = s.Resources(ctx); err != nil {
		return d, err
	}
	if d.Roles, err = s.Roles(ctx, ""); err != nil {
		return d, err
	}
	if d.Sessions, err = queryAll(ctx, s, "dump sessions", scanSession, "SELECT "+sessionCols+" FROM stile_sessions ORDER BY created_at, sid COLLATE \"C\""); err != nil {
		return d, err
	}
	d.Agents, err = s.Agents(ctx)
	return d, err
}

// Load writes a dump into an empty store in one transaction.
func (s *DB) Load(ctx context.Context, d store.Dump) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, "SELECT (SELECT count(*) FROM stile_resources) + (SELECT count(*) FROM stile_sessions)").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.New(errs.Conflict, "the destination store is not empty")
		}
		for k, v := range d.Meta {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, v); err != nil {
				return err
			}
		}
		for _, r := range d.Resources {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_resources ("+resourceCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
				r.Name, r.Type, r.Host, r.Port, r.Database, r.SSLMode, r.Agent, r.AdminUser, r.AdminSecret, r.CreatedAt, r.UpdatedAt); err != nil {
				return fmt.Errorf("load resource %s: %w", r.Name, err)
			}
		}
		for _, r := range d.Roles {
			spec, _ := json.Marshal(r.Spec)
			if _, err := tx.Exec(ctx, "INSERT INTO stile_roles ("+roleCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
				r.Resource, r.Label, r.RoleName, spec, r.PasswordCurrent, r.PasswordPending, r.LastPlanSID, r.LastApplySID, r.Status, r.CreatedAt, r.UpdatedAt); err != nil {
				return fmt.Errorf("load role %s: %w", r.RoleName, err)
			}
		}
		for _, sess := range d.Sessions {
			if err := insertSession(ctx, tx, sess); err != nil {
				return err
			}
		}
		for _, a := range d.Agents {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_agents ("+agentCols+") VALUES ($1, $2, $3, $4, $5, $6, '')", a.Name, a.TokenHash, a.CreatedAt, nullTime(a.RevokedAt), nullTime(a.LastSeen), a.Version); err != nil {
				return fmt.Errorf("load agent %s: %w", a.Name, err)
			}
		}
		return nil
	})
}
