package apply_test

import (
	"context"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// TestOwnerWithoutSchemaUsage is issue 21 item 12: a table's owner, and a
// third party that granted on it, hold no USAGE on the table's schema. A
// CREATEROLE admin grants as the owner and revokes as the third party (SET
// ROLE), and PostgreSQL looks s.t up as that role: "permission denied for
// schema s". The plan lends them USAGE for the block, as the schema's
// owner, and takes it back before COMMIT: the apply converges and the
// schema's ACL is as it was.
func TestOwnerWithoutSchemaUsage(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		admin, sowner, towner, x := p+"_admin", p+"_sowner", p+"_towner", p+"_x"
		c.Exec(t, "postgres",
			"CREATE ROLE "+admin+" LOGIN CREATEROLE PASSWORD 'adminpw'",
			"CREATE ROLE "+sowner, "CREATE ROLE "+towner, "CREATE ROLE "+x,
			"GRANT "+sowner+", "+towner+", "+x+" TO "+admin,
			"CREATE DATABASE "+p+"_app OWNER "+admin,
		)
		c.Exec(t, p+"_app",
			"CREATE SCHEMA s AUTHORIZATION "+sowner,
			"GRANT USAGE, CREATE ON SCHEMA s TO "+towner+", "+x,
			"SET ROLE "+towner,
			"CREATE TABLE s.t (id int)",
			"CREATE TABLE s.u (id int)",
			"GRANT SELECT ON s.u TO "+x+" WITH GRANT OPTION",
			"RESET ROLE",
		)
		f := &fixture{t: t, c: c, tg: c.As(admin, "adminpw"), p: p}
		in := f.input(spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		// A grant by the third party, to be revoked as it.
		c.Exec(t, "postgres", `CREATE ROLE "`+in.RoleName+`" LOGIN`)
		if c.Major() >= 16 {
			c.Exec(t, "postgres", `GRANT "`+in.RoleName+`" TO `+admin+` WITH ADMIN TRUE`)
		}
		c.Exec(t, p+"_app",
			"SET ROLE "+x, `GRANT SELECT ON s.u TO "`+in.RoleName+`"`, "RESET ROLE",
			"REVOKE USAGE, CREATE ON SCHEMA s FROM "+towner+", "+x,
		)
		res := f.converge(in)
		mustContain(t, res.Document.SQLPlan,
			`GRANT USAGE ON SCHEMA "s" TO "`+towner+`", "`+x+`"`,
			`REVOKE USAGE ON SCHEMA "s" FROM "`+towner+`", "`+x+`"`)
		f.mustBeInSync(in)
		var ok, third, lent bool
		if err := c.Conn(t, p+"_app").QueryRow(context.Background(), `SELECT has_table_privilege($1, 's.t', 'SELECT'),
			EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 's.u'::regclass AND a.grantor = $2::regrole),
			has_schema_privilege($2, 's', 'USAGE') OR has_schema_privilege($3, 's', 'USAGE')`,
			in.RoleName, x, towner).Scan(&ok, &third, &lent); err != nil {
			t.Fatal(err)
		}
		if !ok || third || lent {
			t.Errorf("after converge: SELECT on s.t %v, want true; a grant by %s on s.u %v, want false; USAGE lent and kept %v, want false", ok, x, third, lent)
		}
	})
}
