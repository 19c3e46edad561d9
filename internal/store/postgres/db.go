// Package postgres is the PostgreSQL store, for several stile server
// replicas sharing one database (with the replication and failover teams
// already run). It passes the same conformance suite as the SQLite store.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrateLock serializes migrations when replicas start together.
const migrateLock = 0x73746c6d // "stlm"

// DB is the PostgreSQL store.
type DB struct {
	pool *pgxpool.Pool
}

var _ store.Store = (*DB)(nil)

// Open connects to url and applies pending migrations under an advisory
// lock, so replicas starting at once migrate exactly once.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errs.Invalidf("store URL: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "stile-store"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &DB{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the pool.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

func (s *DB) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLock))
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS stile_schema_migrations (version integer PRIMARY KEY)"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	entries, _ := migrations.ReadDir("migrations")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %s", name)
		}
		body, _ := migrations.ReadFile("migrations/" + name)
		err = pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM stile_schema_migrations WHERE version = $1)", v).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO stile_schema_migrations (version) VALUES ($1)", v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (s *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.New(errs.NotFound, format, args...)
	}
	return err
}

func isFK(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

func now() time.Time { return time.Now().UTC() }

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, s *DB, op string, scan func(pgx.Row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// SetMetaOnce stores value under key unless one is there, and returns the
// stored value.
func (s *DB) SetMetaOnce(ctx context.Context, key, value string) (string, error) {
	var out string
	err := s.pool.QueryRow(ctx, `
WITH ins AS (INSERT INTO stile_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING RETURNING value)
SELECT value FROM ins UNION ALL SELECT value FROM stile_meta WHERE key = $1 LIMIT 1`, key, value).Scan(&out)
	if err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return out, nil
}
