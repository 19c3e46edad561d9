package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/store"
)

// PutCancelRoutes stores routes and drops those older than a month.
func (s *DB) PutCancelRoutes(ctx context.Context, routes ...store.CancelRoute) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM stile_cancel_routes WHERE created_at < now() - interval '1 month'"); err != nil {
			return fmt.Errorf("expire cancel routes: %w", err)
		}
		for _, r := range routes {
			if _, err := tx.Exec(ctx, "INSERT INTO stile_cancel_routes (key_hash, user_name, route, created_at) VALUES ($1, $2, $3, $4)",
				r.KeyHash, r.User, r.Route, r.CreatedAt); err != nil {
				return fmt.Errorf("store cancel route: %w", err)
			}
		}
		return nil
	})
}

// CancelRoute returns one route.
func (s *DB) CancelRoute(ctx context.Context, keyHash string) (store.CancelRoute, error) {
	r := store.CancelRoute{KeyHash: keyHash}
	err := s.pool.QueryRow(ctx, "SELECT user_name, route, created_at FROM stile_cancel_routes WHERE key_hash = $1", keyHash).Scan(&r.User, &r.Route, &r.CreatedAt)
	r.CreatedAt = r.CreatedAt.UTC()
	return r, notFound(err, "no such connection")
}

// DeleteCancelRoutes drops routes.
func (s *DB) DeleteCancelRoutes(ctx context.Context, keyHashes ...string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM stile_cancel_routes WHERE key_hash = ANY($1)", keyHashes)
	if err != nil {
		return fmt.Errorf("delete cancel routes: %w", err)
	}
	return nil
}
