package sqldb

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

const rotationCols = "role_name, every_seconds, set_by, set_at, last_attempt, last_error"

func scanRotation(row scanner) (store.Rotation, error) {
	var r store.Rotation
	err := row.Scan(&r.Role, &r.EverySeconds, &r.SetBy, at{&r.SetAt}, at{&r.LastAttempt}, &r.LastError)
	return r, err
}

// PutRotation sets or removes a role's rotation schedule.
func (s *DB) PutRotation(ctx context.Context, r store.Rotation) error {
	return s.tx(ctx, func(tx conn) error { return putRotation(ctx, tx, r) })
}

func putRotation(ctx context.Context, tx conn, r store.Rotation) error {
	var err error
	if r.EverySeconds <= 0 {
		_, err = tx.exec(ctx, "DELETE FROM {rotations} WHERE role_name = ?", r.Role)
	} else {
		_, err = tx.exec(ctx, "INSERT INTO {rotations} ("+rotationCols+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (role_name) DO UPDATE SET every_seconds = excluded.every_seconds, set_by = excluded.set_by, set_at = excluded.set_at",
			r.Role, r.EverySeconds, r.SetBy, tx.tm(r.SetAt), tx.tm(r.LastAttempt), r.LastError)
	}
	if err != nil {
		return fmt.Errorf("rotation schedule of %s: %w", r.Role, err)
	}
	return nil
}

// Rotations lists the schedules.
func (s *DB) Rotations(ctx context.Context) ([]store.Rotation, error) {
	return queryAll(ctx, s.c(), "list rotations", scanRotation, "SELECT "+rotationCols+" FROM {rotations} ORDER BY role_name{C}")
}

// RotationAttempt records a scheduled rotation's attempt.
func (s *DB) RotationAttempt(ctx context.Context, role string, at time.Time, errText string) error {
	c := s.c()
	_, err := c.exec(ctx, "UPDATE {rotations} SET last_attempt = ?, last_error = ? WHERE role_name = ?", c.tm(at), errText, role)
	return err
}
