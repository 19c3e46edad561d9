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
	if d.Agents, err = s.Agents(ctx); err != nil {
		return d, err
	}
	if d.Users, err = s.Users(ctx); err != nil {
		return d, err
	}
	if d.Tokens, err = s.Tokens(ctx, ""); err != nil {
		return d, err
	}
	if d.Groups, err = s.Groups(ctx); err != nil {
		return d, err
	}
	if d.Access, err = s.Access(ctx); err != nil {
		return d, err
	}
	if d.ApprovalRequired, err = queryAll(ctx, s, "dump approval settings", func(row pgx.Row) (string, error) {
		var r string
		return r, row.Scan(&r)
	}, "SELECT role_name FROM stile_approval_required ORDER BY role_name COLLATE \"C\""); err != nil {
		return d, err
	}
	d.Approvals, err = s.Approvals(ctx, "")
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
		for _, u := range d.Users {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_users (name, admin, disabled, created_at) VALUES ($1, $2, $3, $4)", u.Name, u.Admin, u.Disabled, u.CreatedAt); err != nil {
				return fmt.Errorf("load user %s: %w", u.Name, err)
			}
		}
		for _, k := range d.Tokens {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_tokens (id, user_name, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)", k.ID, k.User, k.Hash, k.CreatedAt, nullTime(k.RevokedAt)); err != nil {
				return fmt.Errorf("load token %s: %w", k.ID, err)
			}
		}
		for g, members := range d.Groups {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_groups (name) VALUES ($1)", g); err != nil {
				return fmt.Errorf("load group %s: %w", g, err)
			}
			for _, u := range members {
				if _, err := tx.Exec(ctx, "INSERT INTO stile_group_members (group_name, user_name) VALUES ($1, $2)", g, u); err != nil {
					return fmt.Errorf("load member %s of %s: %w", u, g, err)
				}
			}
		}
		for r, groups := range d.Access {
			for _, g := range groups {
				if _, err := tx.Exec(ctx, "INSERT INTO stile_access (role_name, group_name) VALUES ($1, $2)", r, g); err != nil {
					return fmt.Errorf("load access %s: %w", r, err)
				}
			}
		}
		for _, r := range d.ApprovalRequired {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_approval_required (role_name) VALUES ($1)", r); err != nil {
				return fmt.Errorf("load approval setting %s: %w", r, err)
			}
		}
		for _, a := range d.Approvals {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_approvals ("+approvalCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)", a.ID, a.Role, a.User, a.Database, a.Status, a.CreatedAt, a.DecidedBy); err != nil {
				return fmt.Errorf("load approval %s: %w", a.ID, err)
			}
		}
		return nil
	})
}
