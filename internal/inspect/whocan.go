package inspect

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/target"
)

// WhoCanQuery names a privilege on a table, or on one of its columns.
type WhoCanQuery struct {
	Privilege string `json:"privilege"`
	Database  string `json:"database"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	Column    string `json:"column,omitempty"`
}

// Holder is a role that holds a WhoCanQuery's privilege, as PostgreSQL
// decides it (has_table_privilege, has_column_privilege), and how.
type Holder struct {
	Role      string `json:"role"`
	Superuser bool   `json:"superuser,omitempty"`
	Owner     bool   `json:"owner,omitempty"`
	// Direct: granted to the role on the table; Column: on the column;
	// Public: granted to PUBLIC.
	Direct bool `json:"direct,omitempty"`
	Column bool `json:"column,omitempty"`
	Public bool `json:"public,omitempty"`
	// Via are the roles it inherits from that hold it.
	Via []string `json:"via"`
	// SchemaUsage: it may use the table's schema (without it, the
	// privilege cannot be used). RLS: row-level security filters its
	// rows.
	SchemaUsage bool `json:"schema_usage"`
	RLS         bool `json:"rls,omitempty"`
}

// WhoCan lists every role of t's cluster that holds q's privilege, read in
// q's database. A table that does not exist is errs.NotFound.
func WhoCan(ctx context.Context, t target.Target, q WhoCanQuery) ([]Holder, error) {
	if !slices.Contains([]string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}, q.Privilege) {
		return nil, errs.Invalidf("privilege %q is not one of SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER", q.Privilege)
	}
	if q.Column != "" && !slices.Contains([]string{"SELECT", "INSERT", "UPDATE", "REFERENCES"}, q.Privilege) {
		return nil, errs.Invalidf("a column has SELECT, INSERT, UPDATE and REFERENCES only, not %s", q.Privilege)
	}
	conn, err := t.Connect(ctx, q.Database)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists, colExists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2),
		EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		        WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped)`, q.Schema, q.Table, q.Column).Scan(&exists, &colExists); err != nil {
		return nil, err
	}
	switch {
	case !exists:
		return nil, errs.New(errs.NotFound, "table %s.%s.%s does not exist", q.Database, q.Schema, q.Table)
	case q.Column != "" && !colExists:
		return nil, errs.New(errs.NotFound, "column %s of %s.%s.%s does not exist", q.Column, q.Database, q.Schema, q.Table)
	}
	return collect(ctx, conn, "who can", query("whocan"), []any{q.Schema, q.Table, q.Column, q.Privilege}, func(r pgx.Rows) (Holder, error) {
		var h Holder
		err := r.Scan(&h.Role, &h.Superuser, &h.Owner, &h.Direct, &h.Public, &h.Column, &h.Via, &h.SchemaUsage, &h.RLS)
		return h, err
	})
}

// ParseWhoCan reads a privilege and database.schema.table[.column] (names
// as PostgreSQL stores them, without dots) into a query.
func ParseWhoCan(privilege, object string) (WhoCanQuery, error) {
	parts := strings.Split(object, ".")
	if len(parts) < 3 || len(parts) > 4 || slices.Contains(parts, "") {
		return WhoCanQuery{}, errs.Invalidf("%q is not database.schema.table or database.schema.table.column", object)
	}
	q := WhoCanQuery{Privilege: strings.ToUpper(strings.TrimSpace(privilege)), Database: parts[0], Schema: parts[1], Table: parts[2]}
	if len(parts) == 4 {
		q.Column = parts[3]
	}
	return q, nil
}
