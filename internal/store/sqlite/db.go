// Package sqlite is the embedded store: one SQLite file in WAL mode, through
// the pure-Go modernc.org/sqlite driver. The store itself is sqldb's; this
// package opens the file and says how SQLite differs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"

	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqldb"
)

// DB is the SQLite store.
type DB struct {
	*sqldb.DB
	db *sql.DB
}

var (
	_ store.Store  = (*DB)(nil)
	_ store.Dumper = (*DB)(nil)
)

// Open opens (creating if needed) the store at path and applies pending
// migrations. The file and its -wal and -shm files are made mode 0600,
// whatever the umask: the store holds admin credentials.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := restrict(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(5000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and serializing here
	// makes every read-modify-write transaction race-free without
	// SQLITE_BUSY retries (and without row locks, which SQLite lacks). The
	// store is far from the hot path.
	db.SetMaxOpenConns(1)
	s, err := sqldb.Open(ctx, db, dialect())
	if err != nil {
		db.Close()
		return nil, err
	}
	return &DB{DB: s, db: db}, nil
}

// dialect is SQLite's: ? placeholders, unprefixed tables, fixed-width text
// timestamps ("" when unset), bytewise (BINARY) text order by default, and
// no row locks (one connection).
func dialect() sqldb.Dialect {
	return sqldb.Dialect{
		Time:       sqldb.TimeText,
		Unset:      "= ''",
		Unique:     code(sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY),
		ForeignKey: code(sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY),
		Types: map[string]string{
			"timestamp": "TEXT NOT NULL", "timestamp_or_unset": "TEXT NOT NULL DEFAULT ''",
			"bool_false": "INTEGER NOT NULL DEFAULT 0", "json": "TEXT", "bytes": "BLOB",
		},
	}
}

// code matches SQLite errors with one of these (extended) result codes,
// which the driver turns on.
func code(codes ...int) func(error) bool {
	return func(err error) bool {
		e, ok := errors.AsType[*sqlite.Error](err)
		return ok && slices.Contains(codes, e.Code())
	}
}

// fileMode is the mode of the store file and its -wal and -shm files.
const fileMode = 0o600

// restrict creates the database file at path if it is missing, and sets it
// and any -wal and -shm files (an older stile's, or a crash's) to fileMode.
// SQLite gives the -wal and -shm files it creates later the database file's
// mode, umask or not (findCreateFileMode and robust_open in
// https://sqlite.org/src/file/src/os_unix.c), so the main file's mode
// decides.
func restrict(path string) error {
	if path == "" || path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, fileMode); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("set mode of %s: %w", p, err)
		}
	}
	return nil
}
