package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/store"
)

var _ store.Notifier = (*DB)(nil)

// Listen delivers NOTIFY payloads of channel on a dedicated connection,
// re-listening after a dropped connection, until ctx ends. A slow reader
// loses notifications rather than blocking: they are wake-ups, and waiters
// re-read the store.
func (s *DB) Listen(ctx context.Context, channel string) (<-chan string, error) {
	out := make(chan string, 64)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		conn.Release()
		return nil, fmt.Errorf("listen: %w", err)
	}
	go func() {
		defer close(out)
		for {
			n, err := conn.Conn().WaitForNotification(ctx)
			if err == nil {
				select {
				case out <- n.Payload:
				default:
				}
				continue
			}
			conn.Release()
			if ctx.Err() != nil {
				return
			}
			// Reconnect: a notification missed meanwhile only delays a
			// waiter until its next poll.
			for {
				time.Sleep(time.Second)
				if ctx.Err() != nil {
					return
				}
				if conn, err = s.pool.Acquire(ctx); err != nil {
					continue
				}
				if _, err = conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
					conn.Release()
					continue
				}
				break
			}
		}
	}()
	return out, nil
}
