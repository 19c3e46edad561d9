package spec

import (
	"fmt"
	"path"
	"strings"
)

// ColumnPattern names table columns across a cluster:
// database.schema.table.column, each part a name or a path.Match pattern
// (*, ?, […]): "shop.public.customers.email", "*.*.*.ssn". Masking rules
// use it, and strict ones reach the planner, which then withholds SELECT
// on the columns it matches.
type ColumnPattern string

// Validate says what is wrong with p, if anything.
func (p ColumnPattern) Validate() error {
	parts := strings.Split(string(p), ".")
	if len(parts) != 4 {
		return fmt.Errorf("column %q is not database.schema.table.column (use * for any)", string(p))
	}
	for _, part := range parts {
		if _, err := path.Match(part, ""); part == "" || err != nil {
			return fmt.Errorf("column %q: %q is not a name or a pattern", string(p), part)
		}
	}
	return nil
}

// Match reports whether p names column of database.schema.table. A pattern
// that does not validate matches nothing.
func (p ColumnPattern) Match(database, schema, table, column string) bool {
	return p.match(database, schema, table, column)
}

// MatchSchema reports whether p can name a column of some table, present
// or future, in database.schema.
func (p ColumnPattern) MatchSchema(database, schema string) bool {
	return p.match(database, schema)
}

func (p ColumnPattern) match(names ...string) bool {
	parts := strings.Split(string(p), ".")
	if len(parts) != 4 {
		return false
	}
	for i, v := range names {
		if ok, _ := path.Match(parts[i], v); !ok {
			return false
		}
	}
	return true
}
