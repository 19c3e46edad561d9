package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"

	"github.com/stile-dev/stile/internal/errs"
)

// Backup writes a consistent copy of the store file at path to dst, which
// must not exist, while servers go on using the store: VACUUM INTO reads
// one snapshot (a read transaction, which in WAL mode blocks no writer),
// so the copy holds whole transactions only, and its audit chain is the
// store's at one moment. meta is then written into the copy's meta table.
// The copy is mode 0600, as the store is.
func Backup(ctx context.Context, path, dst string, meta map[string]string) error {
	if _, err := os.Stat(path); err != nil {
		return errs.Invalidf("store %s: %v", path, errors.Unwrap(err))
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, os.ErrExist) {
		return errs.Invalidf("%s exists: a backup never overwrites a file", dst)
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	f.Close()
	ok := false
	defer func() {
		if !ok {
			os.Remove(dst)
		}
	}()
	src, err := sql.Open("sqlite", "file:"+path+"?"+url.Values{"_pragma": {"busy_timeout(5000)"}}.Encode())
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	// VACUUM INTO writes into an empty file as into a new one.
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}
	out, err := sql.Open("sqlite", "file:"+dst)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	defer out.Close()
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if _, err := out.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, meta[k]); err != nil {
			return fmt.Errorf("stamp %s: %w", dst, err)
		}
	}
	ok = true
	return nil
}

// ReadMeta returns the meta table of the SQLite file at path, read only:
// nothing is migrated or written. A file that is not a stile store is
// errs.Invalid.
func ReadMeta(ctx context.Context, path string) (map[string]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, errs.Invalidf("%s: %v", path, errors.Unwrap(err))
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT key, value FROM meta")
	if err != nil {
		return nil, errs.Invalidf("%s is not a stile store: %v", path, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}
