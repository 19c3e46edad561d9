package apply_test

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// The randomized converge test's oracle: what a declaration means, read
// from the documentation, checked with has_*_privilege.
// object is a relation or function of a test database.
type object struct {
	schema, name, kind, owner string // kind: table, sequence, function
}

func (o object) sql() string {
	if o.kind == "function" {
		return "FUNCTION " + pgx.Identifier{o.schema, o.name}.Sanitize() + "()"
	}
	return pgx.Identifier{o.schema, o.name}.Sanitize()
}

func (tr *trial) objects(db string) []object {
	conn := tr.conn(db)
	rows, err := conn.Query(context.Background(), `
		SELECT n.nspname::text, c.relname::text, CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, pg_get_userbyid(c.relowner)::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
		UNION ALL
		SELECT n.nspname::text, p.proname::text, 'function', pg_get_userbyid(p.proowner)::text
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2`)
	if err != nil {
		tr.fatalf("objects: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (object, error) {
		var o object
		return o, r.Scan(&o.schema, &o.name, &o.kind, &o.owner)
	})
	if err != nil {
		tr.fatalf("objects: %v", err)
	}
	return out
}

// expect is what a declaration means for one database: the privileges of
// the role on each kind of object in each scoped schema. It is written from
// the documentation, not from the planner.
type expect struct {
	connect bool
	schemas map[string]bool // scoped schemas
	table   []string
	seq     []string
	execute bool
	create  bool
}

func (tr *trial) expectation(in plan.Input, db string) expect {
	e := expect{schemas: map[string]bool{}}
	privs := in.Role.Privileges
	has := func(p string) bool { return slices.Contains(privs, p) || slices.Contains(privs, "ALL") }
	for _, p := range spec.TablePrivileges {
		if p == "MAINTAIN" && tr.c.Major() < 17 {
			continue
		}
		if has(p) {
			e.table = append(e.table, p)
		}
	}
	switch {
	case has("INSERT") || has("UPDATE"):
		e.seq = []string{"USAGE", "SELECT"}
	case has("SELECT"):
		e.seq = []string{"SELECT"}
	}
	e.execute = slices.Contains(privs, "EXECUTE")
	e.create = slices.Contains(privs, "CREATE")
	for _, sc := range in.Scopes {
		if sc.Database != db {
			continue
		}
		e.connect = true
		if sc.Schema != "" {
			e.schemas[sc.Schema] = true
			continue
		}
		for _, s := range tr.schemas(db) {
			if !sc.Excludes(s) {
				e.schemas[s] = true
			}
		}
	}
	return e
}

func (tr *trial) schemas(db string) []string {
	rows, err := tr.conn(db).Query(context.Background(), `SELECT nspname::text FROM pg_namespace
		WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg\_temp\_%' AND nspname NOT LIKE 'pg\_toast\_temp\_%' ORDER BY 1`)
	if err != nil {
		tr.fatalf("schemas: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tr.fatalf("schemas: %v", err)
	}
	return out
}

// check compares every privilege of every role on every object of the
// test's databases with the expectation, and re-plans: nothing to do.
func (tr *trial) check(when string) {
	tr.t.Helper()
	ctx := context.Background()
	for i, in := range tr.roles {
		g := tr.groupOf(in)
		for _, db := range tr.dbs {
			// A member holds its group's privileges too (INHERIT).
			es := []expect{tr.expectation(in, db)}
			if g != nil {
				es = append(es, tr.expectation(*g, db))
			}
			anyOf := func(f func(expect) bool) bool { return slices.ContainsFunc(es, f) }
			conn := tr.conn(db)
			var problems []string
			q := func(what string, want bool, sql string, args ...any) {
				var got bool
				if err := conn.QueryRow(ctx, sql, args...).Scan(&got); err != nil {
					tr.fatalf("%s: %s: %v", when, what, err)
				}
				if got != want {
					problems = append(problems, fmt.Sprintf("%s: has %v, want %v", what, got, want))
				}
			}
			q("CONNECT on "+db, anyOf(func(e expect) bool { return e.connect }), "SELECT has_database_privilege($1, $2, 'CONNECT')", in.RoleName, db)
			q("TEMPORARY on "+db, false, "SELECT has_database_privilege($1, $2, 'TEMPORARY')", in.RoleName, db)
			for _, s := range tr.schemas(db) {
				q("USAGE on schema "+s, anyOf(func(e expect) bool { return e.schemas[s] }), "SELECT has_schema_privilege($1, $2, 'USAGE')", in.RoleName, s)
				q("CREATE on schema "+s, anyOf(func(e expect) bool { return e.schemas[s] && e.create }), "SELECT has_schema_privilege($1, $2, 'CREATE')", in.RoleName, s)
			}
			for _, o := range tr.objects(db) {
				if o.owner == in.RoleName || (g != nil && o.owner == g.RoleName) {
					continue // an owner holds everything on what it made, and so do its members
				}
				holds := func(f func(e expect) bool) bool {
					return anyOf(func(e expect) bool { return e.schemas[o.schema] && f(e) })
				}
				ident := pgx.Identifier{o.schema, o.name}.Sanitize()
				switch o.kind {
				case "table":
					withheld := tr.withheld(tr.roles[i], db, o)
					for _, p := range spec.TablePrivileges {
						if p == "MAINTAIN" && tr.c.Major() < 17 {
							continue
						}
						want := holds(func(e expect) bool { return slices.Contains(e.table, p) })
						if p == "SELECT" && len(withheld) > 0 {
							want = false // granted column by column
						}
						q(p+" on "+ident, want, "SELECT has_table_privilege($1, $2, $3)", tr.roles[i].RoleName, ident, p)
					}
					if holds(func(e expect) bool { return slices.Contains(e.table, "SELECT") }) {
						for _, col := range tr.columns(db, o) {
							q("SELECT on "+ident+"."+col, !slices.Contains(withheld, col), "SELECT has_column_privilege($1, $2, $3, 'SELECT')", tr.roles[i].RoleName, ident, col)
						}
					}
				case "sequence":
					for _, p := range []string{"USAGE", "SELECT", "UPDATE"} {
						q(p+" on sequence "+ident, holds(func(e expect) bool { return slices.Contains(e.seq, p) }), "SELECT has_sequence_privilege($1, $2, $3)", tr.roles[i].RoleName, ident, p)
					}
				case "function":
					q("EXECUTE on "+ident+"()", holds(func(e expect) bool { return e.execute }), "SELECT has_function_privilege($1, $2, 'EXECUTE')", tr.roles[i].RoleName, ident+"()")
				}
			}
			if len(problems) > 0 {
				tr.fatalf("%s: %s in %s (scopes %v, privileges %v):\n  %s", when, in.RoleName, db, in.Role.Scopes, in.Role.Privileges, strings.Join(problems, "\n  "))
			}
		}
		// The role itself: LOGIN INHERIT (a group NOLOGIN), nothing else,
		// no memberships but in its group, without ADMIN (and on 16+ with
		// INHERIT).
		var attrs string
		inherit := "true"
		if tr.c.Major() >= 16 {
			inherit = "m.inherit_option"
		}
		if err := tr.conn("postgres").QueryRow(ctx, `SELECT concat_ws(' ', rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole,
				rolreplication, rolbypassrls, rolconnlimit, coalesce(rolvaliduntil::text, 'infinity'),
				'['||(SELECT string_agg(concat_ws(':', pg_get_userbyid(m.roleid), m.admin_option, `+inherit+`), ',') FROM pg_auth_members m WHERE m.member = r.oid)||']')
			FROM pg_roles r WHERE rolname = $1`, in.RoleName).Scan(&attrs); err != nil {
			tr.fatalf("%s: attributes of %s: %v", when, in.RoleName, err)
		}
		want := "t t f f f f f -1 infinity"
		if in.Role.Type == spec.Group {
			want = "f t f f f f f -1 infinity"
		}
		if g != nil {
			want += " [" + g.RoleName + ":f:t]"
		}
		if attrs != want {
			tr.fatalf("%s: %s has login, inherit, superuser, createdb, createrole, replication, bypassrls, connection limit, valid until, [memberships:admin:inherit] = %s, want %s", when, in.RoleName, attrs, want)
		}
		if res := tr.plan(i); res.Status != plan.ItemInSync {
			tr.fatalf("%s: re-plan of %s is %s (%s):\n%s", when, in.RoleName, res.Status, res.Message, res.Document.SQLPlan)
		}
	}
}

// checkWithheld fails the trial if a role can read a column its strict
// rules withhold, anywhere.
func (tr *trial) checkWithheld(when string) {
	tr.t.Helper()
	for _, in := range tr.roles {
		if len(in.Strict) == 0 {
			continue
		}
		for _, db := range tr.dbs {
			for _, o := range tr.objects(db) {
				if o.kind != "table" || o.owner == in.RoleName {
					continue
				}
				ident := pgx.Identifier{o.schema, o.name}.Sanitize()
				for _, col := range tr.withheld(in, db, o) {
					var got bool
					if err := tr.conn(db).QueryRow(context.Background(), "SELECT has_column_privilege($1, $2, $3, 'SELECT')", in.RoleName, ident, col).Scan(&got); err != nil {
						tr.fatalf("%s: %v", when, err)
					}
					if got {
						tr.fatalf("%s: %s can read %s.%s, which its strict rules %v withhold", when, in.RoleName, ident, col, in.Strict)
					}
				}
			}
		}
	}
}

// strictRounds is how many apply rounds new tables take: one when a role
// has strict column rules, none otherwise.
func (tr *trial) strictRounds() int {
	for _, in := range tr.roles {
		if len(in.Strict) > 0 {
			return 1
		}
	}
	return 0
}

// columns lists a relation's columns.
func (tr *trial) columns(db string, o object) []string {
	rows, err := tr.conn(db).Query(context.Background(), `SELECT attname::text FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, pgx.Identifier{o.schema, o.name}.Sanitize())
	if err != nil {
		tr.fatalf("columns: %v", err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tr.fatalf("columns: %v", err)
	}
	return cols
}

// withheld lists the columns of o that in's strict rules withhold, by
// path.Match, not by the planner's code.
func (tr *trial) withheld(in plan.Input, db string, o object) []string {
	var out []string
	for _, col := range tr.columns(db, o) {
		for _, pat := range in.Strict {
			parts := strings.Split(pat, ".")
			ok := true
			for k, v := range []string{db, o.schema, o.name, col} {
				m, _ := path.Match(parts[k], v)
				ok = ok && m
			}
			if ok {
				out = append(out, col)
				break
			}
		}
	}
	return out
}

func shortHash(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}
