package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// CreateWebSession stores a web sign-in (and drops expired ones).
func (s *DB) CreateWebSession(ctx context.Context, w store.WebSession) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM web_sessions WHERE expires < ?", now()); err != nil {
		return fmt.Errorf("expire web sessions: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "INSERT INTO web_sessions (id_hash, csrf, token_hash, expires) VALUES (?, ?, ?, ?)", w.IDHash, w.CSRF, w.TokenHash, ts(w.Expires)); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// WebSession returns an unexpired sign-in and extends it.
func (s *DB) WebSession(ctx context.Context, idHash string, expires time.Time) (store.WebSession, error) {
	w := store.WebSession{IDHash: idHash}
	var exp string
	err := s.db.QueryRowContext(ctx, "SELECT csrf, token_hash, expires FROM web_sessions WHERE id_hash = ? AND expires >= ?", idHash, now()).Scan(&w.CSRF, &w.TokenHash, &exp)
	if err != nil {
		return w, notFound(err, "no such web session")
	}
	w.Expires = expires
	_, err = s.db.ExecContext(ctx, "UPDATE web_sessions SET expires = ? WHERE id_hash = ?", ts(expires), idHash)
	return w, err
}

// DeleteWebSession signs a browser out.
func (s *DB) DeleteWebSession(ctx context.Context, idHash string) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM web_sessions WHERE id_hash = ?", idHash)
	return err
}
