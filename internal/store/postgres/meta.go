package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
)

// ReadMeta reads the meta table of the store at url without opening it as
// a store: nothing is migrated, so a store restored with pg_restore can be
// checked (its data key's id) before anything changes it.
func ReadMeta(ctx context.Context, url string) (map[string]string, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errs.Invalidf("store URL: %v", err)
	}
	cfg.RuntimeParams["application_name"] = "stile-store"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", dialect().Prefix+"meta").Scan(&exists); err != nil {
		return nil, fmt.Errorf("read store meta: %w", err)
	}
	if !exists {
		return nil, errs.Invalidf("database %s holds no stile store (no %smeta table)", cfg.Database, dialect().Prefix)
	}
	rows, err := conn.Query(ctx, "SELECT key, value FROM "+dialect().Prefix+"meta")
	if err != nil {
		return nil, fmt.Errorf("read store meta: %w", err)
	}
	out := map[string]string{}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	if err != nil {
		return nil, fmt.Errorf("read store meta: %w", err)
	}
	return out, nil
}
