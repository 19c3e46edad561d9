package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// PutCancelRoutes stores routes and drops those older than a month.
func (s *DB) PutCancelRoutes(ctx context.Context, routes ...store.CancelRoute) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM cancel_routes WHERE created_at < ?", ts(time.Now().AddDate(0, -1, 0))); err != nil {
			return fmt.Errorf("expire cancel routes: %w", err)
		}
		for _, r := range routes {
			if _, err := tx.ExecContext(ctx, "INSERT INTO cancel_routes (key_hash, user_name, route, created_at) VALUES (?, ?, ?, ?)",
				r.KeyHash, r.User, r.Route, ts(r.CreatedAt)); err != nil {
				return fmt.Errorf("store cancel route: %w", err)
			}
		}
		return nil
	})
}

// CancelRoute returns one route.
func (s *DB) CancelRoute(ctx context.Context, keyHash string) (store.CancelRoute, error) {
	r := store.CancelRoute{KeyHash: keyHash}
	var created string
	err := s.db.QueryRowContext(ctx, "SELECT user_name, route, created_at FROM cancel_routes WHERE key_hash = ?", keyHash).Scan(&r.User, &r.Route, &created)
	r.CreatedAt = parseTS(created)
	return r, notFound(err, "no such connection")
}

// DeleteCancelRoutes drops routes.
func (s *DB) DeleteCancelRoutes(ctx context.Context, keyHashes ...string) error {
	for _, h := range keyHashes {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM cancel_routes WHERE key_hash = ?", h); err != nil {
			return fmt.Errorf("delete cancel route: %w", err)
		}
	}
	return nil
}
