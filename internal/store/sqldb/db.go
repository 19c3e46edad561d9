// Package sqldb is stile's store over database/sql, one implementation for
// every database it runs on; a Dialect holds what differs (placeholders,
// table names, the time codec, row locks, constraint error codes). The
// sqlite and postgres packages open the database and pick the dialect.
package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// DB is the store.
type DB struct {
	db *sql.DB
	d  *Dialect
}

var (
	_ store.Store  = (*DB)(nil)
	_ store.Dumper = (*DB)(nil)
)

// Open applies pending migrations to db and returns the store over it. It
// does not close db on failure.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*DB, error) {
	s := &DB{db: db, d: &d}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.startChain(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// runner is what *sql.DB, *sql.Conn and *sql.Tx share.
type runner interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// conn runs dialect-rendered queries on a database, connection or
// transaction.
type conn struct {
	r runner
	d *Dialect
	// finished collects, in a transaction, the sessions it finishes: tx
	// appends them to the audit chain before it commits.
	finished *[]string
	// stmts, in a transaction, are its statements prepared once: a batch
	// of 200 plans finishes 200 sessions and roles with the same few, and
	// preparing each anew was most of the SQLite store's time. The
	// transaction closes them when it ends.
	stmts map[string]*sql.Stmt
	tx    *sql.Tx
}

// prepared returns q's statement prepared in the transaction; nil and no
// error outside one.
func (c conn) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if c.stmts == nil {
		return nil, nil
	}
	if st := c.stmts[q]; st != nil {
		return st, nil
	}
	st, err := c.tx.PrepareContext(ctx, c.d.render(q))
	if err != nil {
		return nil, err
	}
	c.stmts[q] = st
	return st, nil
}

func (c conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := c.prepared(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.ExecContext(ctx, args...)
	}
	return c.r.ExecContext(ctx, c.d.render(q), args...)
}

func (c conn) row(ctx context.Context, q string, args ...any) *sql.Row {
	if st, err := c.prepared(ctx, q); st != nil && err == nil {
		return st.QueryRowContext(ctx, args...)
	}
	// Outside a transaction; or preparing failed, and running q says why.
	return c.r.QueryRowContext(ctx, c.d.render(q), args...)
}

func (c conn) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := c.prepared(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st != nil:
		return st.QueryContext(ctx, args...)
	}
	return c.r.QueryContext(ctx, c.d.render(q), args...)
}

// affect runs q and returns how many rows it changed.
func (c conn) affect(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *DB) c() conn { return conn{r: s.db, d: s.d} }

// tm encodes a time for the dialect.
func (c conn) tm(t time.Time) any { return c.d.Time(t) }

func (c conn) now() any { return c.d.Time(time.Now()) }

// tx runs fn in a transaction on r (a *sql.DB or a *sql.Conn).
func tx(ctx context.Context, r interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, d *Dialect, fn func(conn) error) error {
	t, err := r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	c := conn{r: t, d: d, finished: new([]string), stmts: map[string]*sql.Stmt{}, tx: t}
	if err := fn(c); err != nil {
		t.Rollback()
		return err
	}
	// Last, so that the chain's head, which every finishing transaction
	// locks, is held only while nothing else is waited for.
	if err := appendChain(ctx, c, *c.finished); err != nil {
		t.Rollback()
		return err
	}
	return t.Commit()
}

func (s *DB) tx(ctx context.Context, fn func(conn) error) error { return tx(ctx, s.db, s.d, fn) }

// migrations is the schema, NNN_name.sql, written once for every dialect.
//
//go:embed migrations/*.sql
var migrations embed.FS

// typeWords are the column types the migrations name by role; every
// dialect must render each.
var typeWords = []string{"timestamp", "timestamp_or_unset", "bool_false", "json", "bytes"}

func (s *DB) migrate(ctx context.Context) error {
	for _, w := range typeWords {
		if _, ok := s.d.Types[w]; !ok {
			return fmt.Errorf("migrate: the dialect has no type for {%s}", w)
		}
	}
	c, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer c.Close()
	if s.d.MigrateLock != "" {
		if _, err := c.ExecContext(ctx, s.d.MigrateLock); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer c.ExecContext(context.WithoutCancel(ctx), s.d.MigrateUnlock)
	}
	if _, err := (conn{r: c, d: s.d}).exec(ctx, "CREATE TABLE IF NOT EXISTS {schema_migrations} (version integer PRIMARY KEY)"); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migrate: bad migration name %s", name)
		}
		body, err := fs.ReadFile(migrations, "migrations/"+name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		err = tx(ctx, c, s.d, func(tx conn) error {
			var n int
			if err := tx.row(ctx, "SELECT count(*) FROM {schema_migrations} WHERE version = ?", v).Scan(&n); err != nil || n > 0 {
				return err
			}
			// One schema for every dialect: table names and column types
			// are {words} the dialect renders.
			if _, err := tx.r.ExecContext(ctx, s.d.render(string(body))); err != nil {
				return err
			}
			_, err := tx.exec(ctx, "INSERT INTO {schema_migrations} (version) VALUES (?)", v)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errs.New(errs.NotFound, format, args...)
	}
	return err
}

// conflictOr turns a uniqueness violation into errs.Conflict.
func (s *DB) conflictOr(err error, format string, args ...any) error {
	if err != nil && s.d.Unique(err) {
		return errs.New(errs.Conflict, format, args...)
	}
	return err
}

// fkOr turns a foreign key violation into errs.NotFound.
func (s *DB) fkOr(err error, format string, args ...any) error {
	if err != nil && s.d.ForeignKey(err) {
		return errs.New(errs.NotFound, format, args...)
	}
	return err
}

// SetMetaOnce stores value under key unless one is there, and returns the
// stored value.
func (s *DB) SetMetaOnce(ctx context.Context, key, value string) (string, error) {
	var out string
	err := s.tx(ctx, func(tx conn) error {
		if _, err := tx.exec(ctx, "INSERT INTO {meta} (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
			return err
		}
		return tx.row(ctx, "SELECT value FROM {meta} WHERE key = ?", key).Scan(&out)
	})
	if err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return out, nil
}

// Meta returns the value stored under key, "" when there is none.
func (s *DB) Meta(ctx context.Context, key string) (string, error) {
	v, err := scanString(s.c().row(ctx, "SELECT value FROM {meta} WHERE key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return v, nil
}

// scanner is a row or rows.
type scanner interface{ Scan(...any) error }

func scanString(row scanner) (string, error) {
	var v string
	return v, row.Scan(&v)
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, c conn, op string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := c.query(ctx, q, args...)
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

// in renders "(?, ?, …)" for n values.
func in(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

// anys converts strings to arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
