package inspect

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/target"
)

// Column names a result column's source: what PostgreSQL's row description
// gives as a table OID and attribute number.
type Column struct {
	Schema string `json:"schema"`
	Table  string `json:"table"`
	Name   string `json:"name"`
}

// ResolveColumn names attribute attnum of relation table in database, with
// an admin connection borrowed from t. Masking's column rules match on it.
func ResolveColumn(ctx context.Context, t target.Target, database string, table uint32, attnum int16) (Column, error) {
	c, err := t.Borrow(ctx, database)
	if err != nil {
		return Column{}, err
	}
	var col Column
	err = c.QueryRow(ctx, `SELECT n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE a.attrelid = $1 AND a.attnum = $2`, table, attnum).Scan(&col.Schema, &col.Table, &col.Name)
	t.Return(database, c, err == nil)
	if err != nil {
		return Column{}, fmt.Errorf("name column %d of relation %d: %w", attnum, table, err)
	}
	return col, nil
}
