package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

func conflictOr(err error, format string, args ...any) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return errs.New(errs.Conflict, format, args...)
	}
	return err
}

func fkOr(err error, format string, args ...any) error {
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY") {
		return errs.New(errs.NotFound, format, args...)
	}
	return err
}

// CreateUser adds a user.
func (s *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO users (name, admin, disabled, created_at) VALUES (?, ?, ?, ?)", u.Name, u.Admin, u.Disabled, ts(u.CreatedAt))
	return conflictOr(err, "user %q exists already", u.Name)
}

// Users lists users.
func (s *DB) Users(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s.db, "list users", func(row interface{ Scan(...any) error }) (store.User, error) {
		var u store.User
		var created string
		err := row.Scan(&u.Name, &u.Admin, &u.Disabled, &created)
		u.CreatedAt = parseTS(created)
		return u, err
	}, "SELECT name, admin, disabled, created_at FROM users ORDER BY name")
}

// SetUserDisabled disables or enables a user.
func (s *DB) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	res, err := s.db.ExecContext(ctx, "UPDATE users SET disabled = ? WHERE name = ?", disabled, name)
	if err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "user %q does not exist", name)
	}
	return nil
}

// CreateToken stores a token.
func (s *DB) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO tokens (id, user_name, hash, created_at) VALUES (?, ?, ?, ?)", t.ID, t.User, t.Hash, ts(t.CreatedAt))
	return fkOr(err, "user %q does not exist", t.User)
}

// RevokeToken revokes a token.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = ''", now(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.New(errs.NotFound, "token %q does not exist or is revoked", id)
	}
	return nil
}

// TokenUser returns the user of an unrevoked token.
func (s *DB) TokenUser(ctx context.Context, hash string) (store.User, error) {
	var u store.User
	var created string
	err := s.db.QueryRowContext(ctx, `SELECT u.name, u.admin, u.disabled, u.created_at FROM tokens t JOIN users u ON u.name = t.user_name
WHERE t.hash = ? AND t.revoked_at = ''`, hash).Scan(&u.Name, &u.Admin, &u.Disabled, &created)
	u.CreatedAt = parseTS(created)
	if err != nil {
		return u, notFound(err, "unknown or revoked token")
	}
	return u, nil
}

// CreateGroup adds a group.
func (s *DB) CreateGroup(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO groups (name) VALUES (?)", name)
	return conflictOr(err, "group %q exists already", name)
}

// Groups lists groups and members.
func (s *DB) Groups(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.db.QueryContext(ctx, "SELECT g.name, coalesce(m.user_name, '') FROM groups g LEFT JOIN group_members m ON m.group_name = g.name ORDER BY g.name, m.user_name")
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
		_, err := s.db.ExecContext(ctx, "DELETE FROM group_members WHERE group_name = ? AND user_name = ?", group, user)
		return err
	}
	_, err := s.db.ExecContext(ctx, "INSERT OR IGNORE INTO group_members (group_name, user_name) VALUES (?, ?)", group, user)
	return fkOr(err, "group %q or user %q does not exist", group, user)
}

// SetAccess grants or revokes a group's use of a resource role.
func (s *DB) SetAccess(ctx context.Context, role, group string, on bool) error {
	if !on {
		_, err := s.db.ExecContext(ctx, "DELETE FROM access WHERE role_name = ? AND group_name = ?", role, group)
		return err
	}
	_, err := s.db.ExecContext(ctx, "INSERT OR IGNORE INTO access (role_name, group_name) VALUES (?, ?)", role, group)
	return fkOr(err, "group %q does not exist", group)
}

// Access lists the groups allowed per resource role.
func (s *DB) Access(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	rows, err := s.db.QueryContext(ctx, "SELECT role_name, group_name FROM access ORDER BY role_name, group_name")
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
	return queryAll(ctx, s.db, "list tokens", func(row interface{ Scan(...any) error }) (store.Token, error) {
		var k store.Token
		var created, revoked string
		err := row.Scan(&k.ID, &k.User, &k.Hash, &created, &revoked)
		k.CreatedAt, k.RevokedAt = parseTS(created), parseTS(revoked)
		return k, err
	}, "SELECT id, user_name, hash, created_at, revoked_at FROM tokens WHERE ? = '' OR user_name = ? ORDER BY created_at, id", user, user)
}
