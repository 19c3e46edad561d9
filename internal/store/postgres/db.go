// Package postgres is the PostgreSQL store, for several stile server
// replicas sharing one database (with the replication and failover teams
// already run). The store itself is sqldb's, over pgx's database/sql
// driver; this package connects, says how PostgreSQL differs, and adds
// LISTEN/NOTIFY. It passes the same conformance suite as the SQLite store.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqldb"
)

// migrateLock serializes migrations when replicas start together.
const migrateLock = 0x73746c6d // "stlm"

// DB is the PostgreSQL store.
type DB struct {
	*sqldb.DB
	// pool is shared with the store's *sql.DB; Listen takes its own
	// connections from it.
	pool *pgxpool.Pool
}

var (
	_ store.Store  = (*DB)(nil)
	_ store.Dumper = (*DB)(nil)
)

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
	db := stdlib.OpenDBFromPool(pool)
	s, err := sqldb.Open(ctx, db, dialect())
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	return &DB{DB: s, pool: pool}, nil
}

// Close closes the store and its pool.
func (s *DB) Close() error {
	err := s.DB.Close()
	s.pool.Close()
	return err
}

// dialect is PostgreSQL's: $n placeholders, tables prefixed stile_ (the
// database may be shared), timestamptz (NULL when unset), bytewise text
// order whatever the database's collation, and row locks, since replicas
// write at once.
func dialect() sqldb.Dialect {
	lock := strconv.Itoa(migrateLock)
	return sqldb.Dialect{
		Prefix:     "stile_",
		Dollar:     true,
		Collate:    ` COLLATE "C"`,
		Lock:       " FOR UPDATE",
		SkipLocked: " FOR UPDATE SKIP LOCKED",
		Time:       sqldb.TimeNull,
		Unset:      "IS NULL",
		// https://www.postgresql.org/docs/current/errcodes-appendix.html
		Unique:     sqlstate("23505"), // unique_violation
		ForeignKey: sqlstate("23503"), // foreign_key_violation
		Notify:     "SELECT pg_notify(?, ?)",
		Types: map[string]string{
			"timestamp": "timestamptz NOT NULL", "timestamp_or_unset": "timestamptz",
			"bool_false": "boolean NOT NULL DEFAULT false", "json": "jsonb", "bytes": "bytea",
		},
		MigrateLock:   "SELECT pg_advisory_lock(" + lock + ")",
		MigrateUnlock: "SELECT pg_advisory_unlock(" + lock + ")",
	}
}

// sqlstate matches PostgreSQL errors with this SQLSTATE.
func sqlstate(code string) func(error) bool {
	return func(err error) bool {
		e, ok := errors.AsType[*pgconn.PgError](err)
		return ok && e.Code == code
	}
}
