package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// PutCancelRoutes stores routes and drops those older than a month.
func (s *DB) PutCancelRoutes(ctx context.Context, routes ...store.CancelRoute) error {
	return s.tx(ctx, func(tx conn) error {
		if _, err := tx.exec(ctx, "DELETE FROM {cancel_routes} WHERE created_at < ?", tx.tm(time.Now().AddDate(0, -1, 0))); err != nil {
			return fmt.Errorf("expire cancel routes: %w", err)
		}
		for _, r := range routes {
			if _, err := tx.exec(ctx, "INSERT INTO {cancel_routes} (key_hash, user_name, route, created_at) VALUES (?, ?, ?, ?)",
				r.KeyHash, r.User, r.Route, tx.tm(r.CreatedAt)); err != nil {
				return fmt.Errorf("store cancel route: %w", err)
			}
		}
		return nil
	})
}

// CancelRoute returns one route.
func (s *DB) CancelRoute(ctx context.Context, keyHash string) (store.CancelRoute, error) {
	r := store.CancelRoute{KeyHash: keyHash}
	err := s.c().row(ctx, "SELECT user_name, route, created_at FROM {cancel_routes} WHERE key_hash = ?", keyHash).Scan(&r.User, &r.Route, at{&r.CreatedAt})
	return r, notFound(err, "no such connection")
}

// DeleteCancelRoutes drops routes.
func (s *DB) DeleteCancelRoutes(ctx context.Context, keyHashes ...string) error {
	if len(keyHashes) == 0 {
		return nil
	}
	if _, err := s.c().exec(ctx, "DELETE FROM {cancel_routes} WHERE key_hash IN "+in(len(keyHashes)), anys(keyHashes)...); err != nil {
		return fmt.Errorf("delete cancel routes: %w", err)
	}
	return nil
}
