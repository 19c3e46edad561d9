package apply_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// TestStrictColumnsConverge is issue 15's strict mode on real clusters: a
// role with strict column rules converges to column-level SELECT, and
// PostgreSQL itself refuses the withheld columns to the role's own login,
// whatever the client. New columns, new tables, a hand-made table-level
// grant and the rules' removal are each drift that one apply repairs.
func TestStrictColumnsConverge(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		f := &fixture{t: t, c: c, tg: c.Target(), p: c.Prefix(t)}
		p := f.p
		db := p + "_shop"
		c.Exec(t, "postgres", "CREATE DATABASE "+db)
		c.Exec(t, db,
			"CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text, ssn text)",
			"INSERT INTO public.customers VALUES (1, 'Ada', 'ada@example.com', '078-05-1120')",
			"CREATE TABLE public.orders (id int, total numeric)",
			"INSERT INTO public.orders VALUES (1, 9.5)",
		)
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{db + ".public"}, Privileges: []string{"SELECT", "UPDATE"}})
		in.Strict = []string{db + ".public.customers.email", "*.*.*.ssn"}
		res := f.converge(in)
		mustContain(t, res.Document.SQLPlan, `GRANT SELECT ("id", "name") ON TABLE "public"."customers"`)
		mustNotContain(t, res.Document.SQLPlan, "GRANT SELECT ON ALL TABLES", "GRANT SELECT, UPDATE ON TABLES")
		in.HasPassword = true

		role := c.As(in.RoleName, f.password)
		conn, err := role.Connect(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		refused := func(sql string) {
			t.Helper()
			_, err := conn.Exec(context.Background(), sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s: err %v, want PostgreSQL's 42501", sql, err)
			}
		}
		allowed := func(sql string) {
			t.Helper()
			if _, err := conn.Exec(context.Background(), sql); err != nil {
				t.Errorf("%s: %v", sql, err)
			}
		}
		allowed("SELECT id, name FROM customers")
		allowed("SELECT count(*) FROM customers")
		allowed("UPDATE customers SET name = 'Ada L.' WHERE id = 1")
		allowed("SELECT * FROM orders")
		refused("SELECT email FROM customers")
		refused("SELECT * FROM customers")
		refused("SELECT id FROM customers WHERE ssn LIKE '078%'")
		refused("UPDATE customers SET name = 'x' WHERE id = 1 RETURNING email")
		refused("SELECT row_to_json(c) FROM customers c")

		// A new column the rules leave: the role lacks SELECT on it.
		c.Exec(t, db, "ALTER TABLE public.customers ADD COLUMN city text")
		res = f.converge(in)
		mustContain(t, res.Document.SQLPlan, `GRANT SELECT ("city") ON TABLE "public"."customers"`)
		// A new column a rule names, on a table read whole until now.
		c.Exec(t, db, "ALTER TABLE public.orders ADD COLUMN ssn text")
		res = f.converge(in)
		mustContain(t, res.Document.SQLPlan, `REVOKE SELECT ON TABLE "public"."orders"`, `GRANT SELECT ("id", "total") ON TABLE "public"."orders"`)
		refused("SELECT ssn FROM orders")
		allowed("SELECT id, total FROM orders")
		// A new table: default privileges leave SELECT out, the apply grants it.
		c.Exec(t, db, "CREATE TABLE public.notes (id int, ssn text, body text)")
		refused("SELECT body FROM notes")
		res = f.converge(in)
		mustContain(t, res.Document.SQLPlan, `GRANT SELECT ("body", "id") ON TABLE "public"."notes"`)
		allowed("SELECT id, body FROM notes")
		// Table-level SELECT granted by hand clears nothing the plan keeps:
		// its REVOKE also clears the column grants, which come back.
		c.Exec(t, db, `GRANT SELECT ON public.customers TO "`+in.RoleName+`"`)
		res = f.converge(in)
		mustContain(t, res.Document.SQLPlan, `REVOKE SELECT ON TABLE "public"."customers"`, `GRANT SELECT ("city", "id", "name") ON TABLE "public"."customers"`)
		refused("SELECT email FROM customers")

		// Without the rules, table-level SELECT again.
		in.Strict = nil
		res = f.converge(in)
		mustContain(t, res.Document.SQLPlan, `REVOKE SELECT ("city", "id", "name") ON TABLE "public"."customers"`)
		allowed("SELECT * FROM customers")
		allowed("SELECT * FROM orders")
		if res := f.plan(in); res.Status != plan.ItemInSync {
			t.Fatalf("after the rules' removal: %s\n%s", res.Status, res.Document.SQLPlan)
		}
	})
}
