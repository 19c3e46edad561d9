package sqldb

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// CreateUser adds a user.
func (s *DB) CreateUser(ctx context.Context, u store.User) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {users} ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		u.Name, u.Admin, u.Disabled, c.tm(u.CreatedAt), cmp.Or(u.Source, store.SourceLocal), u.Subject, c.tm(u.LastSignIn))
	return s.conflictOr(err, "user %q exists already", u.Name)
}

const userCols = "name, admin, disabled, created_at, source, subject, last_sign_in"

func scanUser(row scanner) (store.User, error) {
	var u store.User
	err := row.Scan(&u.Name, &u.Admin, &u.Disabled, at{&u.CreatedAt}, &u.Source, &u.Subject, at{&u.LastSignIn})
	return u, err
}

// Users lists users.
func (s *DB) Users(ctx context.Context) ([]store.User, error) {
	return queryAll(ctx, s.c(), "list users", scanUser, "SELECT "+userCols+" FROM {users} ORDER BY name{C}")
}

// User returns one user.
func (s *DB) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.c().row(ctx, "SELECT "+userCols+" FROM {users} WHERE name = ?", name))
	return u, notFound(err, "user %q does not exist", name)
}

// UserBySubject returns the user the identity provider knows as subject.
func (s *DB) UserBySubject(ctx context.Context, subject string) (store.User, error) {
	u, err := scanUser(s.c().row(ctx, "SELECT "+userCols+" FROM {users} WHERE subject = ? AND subject <> ''", subject))
	return u, notFound(err, "no user signed in as %q", subject)
}

// SignedIn records a sign-in through the identity provider.
func (s *DB) SignedIn(ctx context.Context, name string, admin bool, at time.Time) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {users} SET admin = ?, last_sign_in = ? WHERE name = ?", admin, c.tm(at), name)
	if err != nil {
		return fmt.Errorf("record a sign-in: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "user %q does not exist", name)
	}
	return nil
}

// SetUserDisabled disables or enables a user.
func (s *DB) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	n, err := s.c().affect(ctx, "UPDATE {users} SET disabled = ? WHERE name = ?", disabled, name)
	if err != nil {
		return fmt.Errorf("disable user: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "user %q does not exist", name)
	}
	return nil
}

// CreateToken stores a token.
func (s *DB) CreateToken(ctx context.Context, t store.Token) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {tokens} (id, user_name, hash, created_at) VALUES (?, ?, ?, ?)", t.ID, t.User, t.Hash, c.tm(t.CreatedAt))
	return s.fkOr(err, "user %q does not exist", t.User)
}

// RevokeToken revokes a token.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {tokens} SET revoked_at = ? WHERE id = ? AND revoked_at {unset}", c.now(), id)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "token %q does not exist or is revoked", id)
	}
	return nil
}

// TokenUser returns the user of an unrevoked token.
func (s *DB) TokenUser(ctx context.Context, hash string) (store.User, error) {
	u, err := scanUser(s.c().row(ctx, `SELECT u.name, u.admin, u.disabled, u.created_at, u.source, u.subject, u.last_sign_in FROM {tokens} t JOIN {users} u ON u.name = t.user_name
WHERE t.hash = ? AND t.revoked_at {unset}`, hash))
	if err != nil {
		return u, notFound(err, "unknown or revoked token")
	}
	return u, nil
}

// Tokens lists user's tokens (everyone's for ""), revoked ones too, oldest
// first.
func (s *DB) Tokens(ctx context.Context, user string) ([]store.Token, error) {
	return queryAll(ctx, s.c(), "list tokens", func(row scanner) (store.Token, error) {
		var k store.Token
		err := row.Scan(&k.ID, &k.User, &k.Hash, at{&k.CreatedAt}, at{&k.RevokedAt})
		return k, err
	}, "SELECT id, user_name, hash, created_at, revoked_at FROM {tokens} WHERE ? = '' OR user_name = ? ORDER BY created_at, id{C}", user, user)
}
