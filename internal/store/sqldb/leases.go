package sqldb

import (
	"context"
	"fmt"
	"time"
)

// TryLease takes lease name for holder until until when it is free, has
// expired, or is holder's already, in one statement, and reports whether
// holder has it.
func (s *DB) TryLease(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	c := s.c()
	n, err := c.affect(ctx, `INSERT INTO {leases} (name, holder, until) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
WHERE {leases}.until < ? OR {leases}.holder = excluded.holder`, name, holder, c.tm(until), c.tm(time.Now()))
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return n == 1, nil
}
