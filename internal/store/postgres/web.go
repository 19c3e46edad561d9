package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// CreateWebSession stores a web sign-in (and drops expired ones).
func (s *DB) CreateWebSession(ctx context.Context, w store.WebSession) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM stile_web_sessions WHERE expires < now()"); err != nil {
		return fmt.Errorf("expire web sessions: %w", err)
	}
	if _, err := s.pool.Exec(ctx, "INSERT INTO stile_web_sessions (id_hash, csrf, token_hash, expires) VALUES ($1, $2, $3, $4)", w.IDHash, w.CSRF, w.TokenHash, w.Expires); err != nil {
		return fmt.Errorf("create web session: %w", err)
	}
	return nil
}

// WebSession returns an unexpired sign-in and extends it.
func (s *DB) WebSession(ctx context.Context, idHash string, expires time.Time) (store.WebSession, error) {
	w := store.WebSession{IDHash: idHash, Expires: expires}
	err := s.pool.QueryRow(ctx, "UPDATE stile_web_sessions SET expires = $2 WHERE id_hash = $1 AND expires >= now() RETURNING csrf, token_hash", idHash, expires).Scan(&w.CSRF, &w.TokenHash)
	if err != nil {
		return w, notFound(err, "no such web session")
	}
	return w, nil
}

// DeleteWebSession signs a browser out.
func (s *DB) DeleteWebSession(ctx context.Context, idHash string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM stile_web_sessions WHERE id_hash = $1", idHash)
	return err
}
