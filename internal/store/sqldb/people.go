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
	_, err := c.exec(ctx, "INSERT INTO {tokens} (id, user_name, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)", t.ID, t.User, t.Hash, c.tm(t.CreatedAt), c.tm(t.ExpiresAt))
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
WHERE t.hash = ? AND t.revoked_at {unset} AND (t.expires_at {unset} OR t.expires_at > ?)`, hash, s.c().now()))
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
		err := row.Scan(&k.ID, &k.User, &k.Hash, at{&k.CreatedAt}, at{&k.RevokedAt}, at{&k.ExpiresAt})
		return k, err
	}, "SELECT id, user_name, hash, created_at, revoked_at, expires_at FROM {tokens} WHERE ? = '' OR user_name = ? ORDER BY created_at, id{C}", user, user)
}

// CreateDeviceLogin records a device login.
func (s *DB) CreateDeviceLogin(ctx context.Context, d store.DeviceLogin) error {
	c := s.c()
	if _, err := c.exec(ctx, "DELETE FROM {device_logins} WHERE expires < ?", c.now()); err != nil {
		return fmt.Errorf("expire device logins: %w", err)
	}
	_, err := c.exec(ctx, "INSERT INTO {device_logins} (device_hash, user_code, status, user_name, expires) VALUES (?, ?, 'pending', '', ?)", d.DeviceHash, d.UserCode, c.tm(d.Expires))
	return s.conflictOr(err, "that user code is taken")
}

// ApproveDeviceLogin approves a pending device login.
func (s *DB) ApproveDeviceLogin(ctx context.Context, userCode, user string, now time.Time) error {
	c := s.c()
	n, err := c.affect(ctx, "UPDATE {device_logins} SET status = 'approved', user_name = ? WHERE user_code = ? AND status = 'pending' AND expires > ?", user, userCode, c.tm(now))
	if err != nil {
		return fmt.Errorf("approve a device login: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "no sign-in waits with code %s (it expired, or was approved already)", userCode)
	}
	return nil
}

// TakeDeviceLogin returns a device login, taking it when approved.
func (s *DB) TakeDeviceLogin(ctx context.Context, deviceHash string, now time.Time) (store.DeviceLogin, error) {
	var d store.DeviceLogin
	err := s.tx(ctx, func(tx conn) error {
		err := tx.row(ctx, "SELECT device_hash, user_code, status, user_name, expires FROM {device_logins} WHERE device_hash = ? AND expires > ? AND status <> 'done'{lock}", deviceHash, tx.tm(now)).
			Scan(&d.DeviceHash, &d.UserCode, &d.Status, &d.User, at{&d.Expires})
		if err != nil {
			return notFound(err, "no such device login (it expired, or its token was taken)")
		}
		if d.Status == "approved" {
			_, err = tx.exec(ctx, "UPDATE {device_logins} SET status = 'done' WHERE device_hash = ?", deviceHash)
		}
		return err
	})
	return d, err
}
