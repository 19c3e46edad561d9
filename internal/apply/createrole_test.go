package apply_test

import (
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// TestCreateRoleAdmin runs the flow as a CREATEROLE non-superuser admin, as
// managed PostgreSQL hands out: the plan names the capability it lacks and
// the exact SQL that fixes it, and once fixed, converges.
func TestCreateRoleAdmin(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		admin, owner := p+"_admin", p+"_owner"
		c.Exec(t, "postgres",
			"CREATE ROLE "+admin+" LOGIN CREATEROLE PASSWORD 'adminpw'",
			"CREATE ROLE "+owner,
			"CREATE ROLE "+p+"_src",
			"CREATE DATABASE "+p+"_app OWNER "+admin,
		)
		c.Exec(t, p+"_app",
			"CREATE SCHEMA sales AUTHORIZATION "+owner,
			"SET ROLE "+owner,
			"CREATE TABLE sales.orders (id serial primary key)",
			"RESET ROLE",
			"SET ROLE "+admin,
			"CREATE TABLE public.notes (id int)",
			"RESET ROLE",
		)
		f := &fixture{t: t, c: c, tg: c.As(admin, "adminpw"), p: p}
		in := f.input(spec.Role{Resource: p, Label: "rw", Scopes: []string{p + "_app"}, Privileges: []string{"SELECT", "INSERT"}})

		res := f.plan(in)
		fix := `GRANT "` + owner + `" TO "` + admin + `"`
		if c.Major() >= 16 {
			// SET to grant as the owner, INHERIT to set its default
			// privileges as a creator.
			fix += " WITH INHERIT TRUE, SET TRUE"
		}
		if res.Status != plan.ItemFailed || !strings.Contains(res.Message, fix+";") {
			t.Fatalf("plan as a CREATEROLE admin without membership: %s %q, want failed naming %s", res.Status, res.Message, fix)
		}

		c.Exec(t, "postgres", fix)
		first := f.converge(in)
		if c.Major() >= 16 {
			mustContain(t, first.Document.SQLPlan, "SET createrole_self_grant = 'set, inherit'")
		}
		mustContain(t, first.Document.SQLPlan, `ALTER DEFAULT PRIVILEGES FOR ROLE "`+owner+`" IN SCHEMA "sales"`)

		// An external role whose source the admin cannot grant (16+: no
		// ADMIN option) fails at plan time with the fix.
		ext := f.input(spec.Role{Resource: p, Label: "ext", Type: "external", SourceRole: p + "_src"})
		res = f.plan(ext)
		if c.Major() >= 16 {
			want := `GRANT "` + p + `_src" TO "` + admin + `" WITH ADMIN TRUE;`
			if res.Status != plan.ItemFailed || !strings.Contains(res.Message, want) {
				t.Fatalf("external role without ADMIN on its source: %s %q, want failed naming %s", res.Status, res.Message, want)
			}
			c.Exec(t, "postgres", want)
		}
		got := f.converge(ext)
		if c.Major() >= 16 {
			mustContain(t, got.Document.SQLPlan, `GRANT "`+p+`_src" TO "`+ext.RoleName+`" WITH INHERIT TRUE`)
		}
	})
}
