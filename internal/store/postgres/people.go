package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func conflictOr(err error, format string, args ...any) error {
	if pgCode(err) == "23505" {
		return errs.New(errs.Conflict, format, args...)
	}
	return err
}

func fkOr(err error, format string, args ...any) error {
	if pgCode(err) == "23503" {
		return errs.New(errs.NotFound, format, args...)
	}
	return err
}

// CreateUser adds a user.
func (s *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_users (name, admin, disabled, created_at) VALUES ($1, $2, $3, $4)", u.Name, u.Admin, u.Disabled, u.CreatedAt)
	return conflictOr(err, "user %q exists already", u.Name)
}

// Users lists users.
func (s *DB) Users(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s, "list users", func(row pgx.Row) (store.User, error) {
		var u store.User
		err := row.Scan(&u.Name, &u.Admin, &u.Disabled, &u.CreatedAt)
		u.CreatedAt = u.CreatedAt.UTC()
		return u, err
	}, `SELECT name, admin, disabled, created_at FROM stile_users ORDER BY name COLLATE "C"`)
}

// SetUserDisabled disables or enables a user.
func (s *DB) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_users SET disabled = $1 WHERE name = $2", disabled, name)
	if err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "user %q does not exist", name)
	}
	return nil
}

// CreateToken stores a token.
func (s *DB) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_tokens (id, user_name, hash, created_at) VALUES ($1, $2, $3, $4)", t.ID, t.User, t.Hash, t.CreatedAt)
	return fkOr(err, "user %q does not exist", t.User)
}

// RevokeToken revokes a token.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE stile_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", time.Now().UTC(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errs.New(errs.NotFound, "token %q does not exist or is revoked", id)
	}
	return nil
}

// TokenUser returns the user of an unrevoked token.
func (s *DB) TokenUser(ctx context.Context, hash string) (store.User, error) {
	var u store.User
	err := s.pool.QueryRow(ctx, `SELECT u.name, u.admin, u.disabled, u.created_at FROM stile_tokens t JOIN stile_users u ON u.name = t.user_name
WHERE t.hash = $1 AND t.revoked_at IS NULL`, hash).Scan(&u.Name, &u.Admin, &u.Disabled, &u.CreatedAt)
	if err != nil {
		return u, notFound(err, "unknown or revoked token")
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, nil
}

// CreateGroup adds a group.
func (s *DB) CreateGroup(ctx context.Context, name string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_groups (name) VALUES ($1)", name)
	return conflictOr(err, "group %q exists already", name)
}

// Groups lists groups and members.
func (s *DB) Groups(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.pool.Query(ctx, `SELECT g.name, coalesce(m.user_name, '') FROM stile_groups g LEFT JOIN stile_group_members m ON m.group_name = g.name ORDER BY g.name COLLATE "C", m.user_name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g, u string
		if err := rows.Scan(&g, &u); err != nil {
			return nil, err
		}
		if _, ok := out[g]; !ok {
			out[g] = []string{}
		}
		if u != "" {
			out[g] = append(out[g], u)
		}
	}
	return out, rows.Err()
}

// SetMember adds or removes a user from a group.
func (s *DB) SetMember(ctx context.Context, group, user string, in bool) error {
	if !in {
		_, err := s.pool.Exec(ctx, "DELETE FROM stile_group_members WHERE group_name = $1 AND user_name = $2", group, user)
		return err
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_group_members (group_name, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING", group, user)
	return fkOr(err, "group %q or user %q does not exist", group, user)
}

// SetAccess grants or revokes a group's use of a resource role.
func (s *DB) SetAccess(ctx context.Context, role, group string, on bool) error {
	if !on {
		_, err := s.pool.Exec(ctx, "DELETE FROM stile_access WHERE role_name = $1 AND group_name = $2", role, group)
		return err
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO stile_access (role_name, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING", role, group)
	return fkOr(err, "group %q does not exist", group)
}

// Access lists the groups allowed per resource role.
func (s *DB) Access(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.pool.Query(ctx, `SELECT role_name, group_name FROM stile_access ORDER BY role_name COLLATE "C", group_name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list access: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r, g string
		if err := rows.Scan(&r, &g); err != nil {
			return nil, err
		}
		out[r] = append(out[r], g)
	}
	return out, rows.Err()
}

// Tokens lists user's tokens (everyone's for ""), revoked ones too, oldest
// first.
func (s *DB) Tokens(ctx context.Context, user string) ([]store.Token, error) {
	return queryAll(ctx, s, "list tokens", func(row pgx.Row) (store.Token, error) {
		var k store.Token
		var revoked *time.Time
		err := row.Scan(&k.ID, &k.User, &k.Hash, &k.CreatedAt, &revoked)
		if revoked != nil {
			k.RevokedAt = revoked.UTC()
		}
		return k, err
	}, `SELECT id, user_name, hash, created_at, revoked_at FROM stile_tokens WHERE $1 = '' OR user_name = $1
	ORDER BY created_at, id COLLATE "C"`, user)
}
