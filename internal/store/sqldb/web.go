package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// CreateWebSession stores a web sign-in (and drops expired ones).
func (s *DB) CreateWebSession(ctx context.Context, w store.WebSession) error {
	c := s.c()
	if _, err := c.exec(ctx, "DELETE FROM {web_sessions} WHERE expires < ?", c.now()); err != nil {
		return fmt.Errorf("expire web sessions: %w", err)
	}
	if _, err := c.exec(ctx, "INSERT INTO {web_sessions} (id_hash, csrf, token_hash, user_name, expires, not_after) VALUES (?, ?, ?, ?, ?, ?)", w.IDHash, w.CSRF, w.TokenHash, w.User, c.tm(w.Expires), c.tm(w.NotAfter)); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// WebSession returns an unexpired sign-in and extends it.
func (s *DB) WebSession(ctx context.Context, idHash string, expires time.Time) (store.WebSession, error) {
	c := s.c()
	w := store.WebSession{IDHash: idHash, Expires: expires}
	err := c.row(ctx, "UPDATE {web_sessions} SET expires = ? WHERE id_hash = ? AND expires >= ? RETURNING csrf, token_hash, user_name, not_after", c.tm(expires), idHash, c.now()).Scan(&w.CSRF, &w.TokenHash, &w.User, at{&w.NotAfter})
	if err != nil {
		return w, notFound(err, "no such web session")
	}
	return w, nil
}

// DeleteWebSession signs a browser out.
func (s *DB) DeleteWebSession(ctx context.Context, idHash string) error {
	_, err := s.c().exec(ctx, "DELETE FROM {web_sessions} WHERE id_hash = ?", idHash)
	return err
}
