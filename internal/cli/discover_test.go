package cli

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestDiscover, on 15, 16 and 17: a cluster set up by hand, the way real
// ones are (a read-only login, a group role with two members, a migrator
// owning the tables with default privileges for the read-only role, a
// PUBLIC grant), next to a role stile made: stile resources discover lists
// every role with its attributes, memberships (16's options), what it owns
// and what it was granted per schema with counts, marked managed or not.
func TestDiscover(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		db := p + "_shop"
		c.Exec(t, "postgres", "CREATE DATABASE "+db,
			"CREATE ROLE "+p+"_migrator LOGIN", "CREATE ROLE "+p+"_app_ro LOGIN CONNECTION LIMIT 5",
			"CREATE ROLE "+p+"_reporting NOLOGIN", "CREATE ROLE "+p+"_alice LOGIN", "CREATE ROLE "+p+"_bob LOGIN NOINHERIT",
			"GRANT "+p+"_reporting TO "+p+"_alice", "GRANT "+p+"_reporting TO "+p+"_bob WITH ADMIN OPTION",
			"GRANT CONNECT ON DATABASE "+db+" TO "+p+"_app_ro")
		c.Exec(t, db, "CREATE SCHEMA shop AUTHORIZATION "+p+"_migrator",
			"SET ROLE "+p+"_migrator",
			"CREATE TABLE shop.orders (id int)", "CREATE TABLE shop.items (id int)", "CREATE TABLE shop.info (id int)",
			"GRANT USAGE ON SCHEMA shop TO "+p+"_app_ro, "+p+"_reporting",
			"GRANT SELECT ON ALL TABLES IN SCHEMA shop TO "+p+"_app_ro",
			"GRANT SELECT, INSERT ON shop.orders TO "+p+"_reporting",
			"GRANT SELECT ON shop.info TO PUBLIC",
			"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO "+p+"_app_ro",
			"RESET ROLE")
		h := startServer(t, t.TempDir())
		res := p + "_r"
		h.addResource(res, c.Target())
		doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", db+".shop", "--privileges", "SELECT")
		h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
		managed := field(doc, "role_name")

		var d api.Discovery
		if err := json.Unmarshal([]byte(h.ok("", "resources", "discover", res, "--json")), &d); err != nil {
			t.Fatal(err)
		}
		role := func(name string) inspect.DiscoveredRole {
			t.Helper()
			i := slices.IndexFunc(d.Roles, func(r inspect.DiscoveredRole) bool { return r.Name == name })
			if i < 0 {
				t.Fatalf("%s is not discovered", name)
			}
			return d.Roles[i]
		}
		holds := func(r inspect.DiscoveredRole) string {
			var out []string
			for _, h := range r.Holds {
				if h.Database != db {
					continue
				}
				s := h.Schema + " " + h.Kind + " " + h.Privilege
				if h.Kind != "database" && h.Kind != "schema" && !h.Default {
					s += " " + strings.Repeat("*", h.Objects) + "/" + strings.Repeat("*", h.Of)
				}
				if h.Default {
					s += " default for " + strings.TrimPrefix(h.For, p+"_")
				}
				out = append(out, s)
			}
			return strings.Join(out, "; ")
		}
		for name, want := range map[string]string{
			p + "_app_ro":    " database CONNECT; shop schema USAGE; shop table SELECT ***/***; shop table SELECT default for migrator",
			p + "_reporting": "shop schema USAGE; shop table INSERT */***; shop table SELECT */***",
			p + "_migrator":  "shop schema OWNER; shop table OWNER ***/***",
			// The database's ACL is explicit since app_ro's CONNECT, so
			// PUBLIC's defaults show; public's USAGE is 15's default.
			"PUBLIC": " database CONNECT;  database TEMPORARY; public schema USAGE; shop table SELECT */***",
		} {
			if got := holds(role(name)); got != want {
				t.Errorf("%s holds:\n got %s\nwant %s", name, got, want)
			}
		}
		ro := role(p + "_app_ro")
		if !ro.Login || ro.ConnLimit != 5 || ro.Stile != "unmanaged" || len(ro.MemberOf) != 0 {
			t.Errorf("app_ro: %+v", ro)
		}
		rep := role(p + "_reporting")
		if rep.Login || strings.Join(rep.Members, ",") != p+"_alice,"+p+"_bob" {
			t.Errorf("reporting: %+v", rep)
		}
		bob := role(p + "_bob")
		if len(bob.MemberOf) != 1 || !bob.MemberOf[0].AdminOption || bob.MemberOf[0].Inherit || bob.Inherit {
			t.Errorf("bob (NOINHERIT, WITH ADMIN OPTION): %+v", bob.MemberOf)
		}
		if m := role(p + "_alice").MemberOf; len(m) != 1 || !m[0].Inherit || !m[0].Set || m[0].AdminOption {
			t.Errorf("alice's membership: %+v", m)
		}
		if r := role(managed); r.Stile != "managed" || !r.Login {
			t.Errorf("the role stile made: %+v", r)
		}
		if slices.ContainsFunc(d.Roles, func(r inspect.DiscoveredRole) bool { return strings.HasPrefix(r.Name, "pg_") }) {
			t.Error("built-in roles listed")
		}
		out := h.ok("", "resources", "discover", res, "--role", p+"_reporting", "--role", p+"_bob")
		if !strings.HasPrefix(out, "PostgreSQL "+c.Version) || !strings.Contains(out, p+"_reporting (unmanaged)") || !strings.Contains(out, db+".shop table: INSERT 1/3, SELECT 1/3") || strings.Contains(out, p+"_app_ro (") {
			t.Errorf("discover --role, for people:\n%s", out)
		}
	})
}

// TestWhoCan, on 15, 16 and 17: for every table and column of a hand-made
// cluster and each privilege, stile access who-can names exactly the roles
// has_table_privilege and has_column_privilege name, with how (owner,
// granted, a column grant, PUBLIC, through a group role); row-level
// security is flagged; a role stile made shows its masking rule and who
// may use it through stile, standing or eligible.
func TestWhoCan(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		db := p + "_shop"
		c.Exec(t, "postgres", "CREATE DATABASE "+db,
			"CREATE ROLE "+p+"_migrator LOGIN", "CREATE ROLE "+p+"_reporting NOLOGIN", "CREATE ROLE "+p+"_alice LOGIN",
			"CREATE ROLE "+p+"_bob LOGIN NOINHERIT", "GRANT "+p+"_reporting TO "+p+"_alice, "+p+"_bob")
		c.Exec(t, db, "CREATE SCHEMA shop AUTHORIZATION "+p+"_migrator", "SET ROLE "+p+"_migrator",
			"CREATE TABLE shop.orders (id int, total int)", "CREATE TABLE shop.info (id int, note text)",
			"GRANT USAGE ON SCHEMA shop TO "+p+"_reporting",
			"GRANT SELECT, INSERT ON shop.orders TO "+p+"_reporting", "GRANT SELECT ON shop.info TO PUBLIC",
			"GRANT UPDATE (note) ON shop.info TO "+p+"_alice", "ALTER TABLE shop.orders ENABLE ROW LEVEL SECURITY", "RESET ROLE")
		h := startServer(t, t.TempDir())
		res := p + "_r"
		h.addResource(res, c.Target())
		doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", db+".shop", "--privileges", "SELECT")
		h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
		managed := field(doc, "role_name")
		h.ok("", "masking", "add", managed, "--column", db+".shop.orders.total", "--style", "redact", "--id", "totals")
		for _, g := range []string{"analysts", "oncall"} {
			h.ok("", "groups", "create", g)
		}
		h.member("ann", "analysts")
		h.member("eve", "oncall")
		h.ok("", "access", "grant", managed, "--group", "analysts")
		h.ok("", "access", "grant", managed, "--group", "oncall", "--eligible")

		conn := c.Conn(t, db)
		for _, q := range []struct{ object, column, privilege string }{
			{"shop.orders", "", "SELECT"}, {"shop.orders", "", "INSERT"}, {"shop.orders", "", "DELETE"},
			{"shop.info", "", "SELECT"}, {"shop.info", "", "UPDATE"}, {"shop.info", "note", "UPDATE"}, {"shop.info", "id", "UPDATE"},
		} {
			check, args := "has_table_privilege(r.oid, $1::text::regclass, $2::text)", []any{q.object, q.privilege}
			if q.column != "" {
				check, args = "has_column_privilege(r.oid, $1::text::regclass, $3::text, $2::text)", append(args, q.column)
			}
			rows, err := conn.Query(context.Background(), "SELECT rolname FROM pg_roles r WHERE rolname !~ '^pg_' AND "+check+" ORDER BY 1", args...)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			// Other tests make and drop roles on the same cluster at the
			// same time: compare this test's (and the superuser).
			ours := func(name string) bool { return strings.Contains(name, p) || name == c.Target().User }
			want = slices.DeleteFunc(want, func(n string) bool { return !ours(n) })
			object := db + "." + q.object
			if q.column != "" {
				object += "." + q.column
			}
			var out api.WhoCan
			if err := json.Unmarshal([]byte(h.ok("", "access", "who-can", q.privilege, "ON", object, "--resource", res, "--json")), &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range out.Holders {
				if ours(x.Role) {
					got = append(got, x.Role)
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("who can %s %s:\n got %v\nwant %v (PostgreSQL)", q.privilege, object, got, want)
			}
		}

		// How, RLS, and who may use the role stile made.
		var out api.WhoCan
		if err := json.Unmarshal([]byte(h.ok("", "access", "who-can", "SELECT", "ON", db+".shop.orders", "--resource", res, "--json")), &out); err != nil {
			t.Fatal(err)
		}
		find := func(role string) api.WhoCanHolder {
			t.Helper()
			i := slices.IndexFunc(out.Holders, func(h api.WhoCanHolder) bool { return h.Role == role })
			if i < 0 {
				t.Fatalf("%s is not among who can SELECT orders", role)
			}
			return out.Holders[i]
		}
		if m := find(p + "_migrator"); !m.Owner || m.Direct || m.RLS {
			t.Errorf("the owner: %+v", m)
		}
		if a := find(p + "_alice"); a.Direct || strings.Join(a.Via, ",") != p+"_reporting" || !a.SchemaUsage || !a.RLS {
			t.Errorf("alice, through reporting: %+v", a)
		}
		if slices.ContainsFunc(out.Holders, func(h api.WhoCanHolder) bool { return h.Role == p+"_bob" }) {
			t.Error("bob (NOINHERIT) holds it through his group")
		}
		s := find(managed)
		if s.Stile != "managed" || strings.Join(s.Masking, ",") != "totals" || len(s.People) != 2 || s.People[0].User != "ann" || s.People[0].Eligible || s.People[1].User != "eve" || !s.People[1].Eligible {
			t.Errorf("the role stile made: %+v", s)
		}
		if p := find(c.Target().User); !p.Superuser || len(p.Via) != 0 {
			t.Errorf("the superuser: %+v", p)
		}
		csvOut := h.ok("", "access", "who-can", "SELECT", "ON", db+".shop.orders", "--all", "--csv")
		if !strings.HasPrefix(csvOut, "resource,role,how,") || !strings.Contains(csvOut, res+","+p+"_alice,via "+p+"_reporting,yes,yes,unmanaged") {
			t.Errorf("who-can --csv:\n%s", csvOut)
		}
		h.fails(1, "does not exist", "", "access", "who-can", "SELECT", "ON", db+".shop.nope", "--resource", res)
		h.fails(1, "not one of", "", "access", "who-can", "FLY", "ON", db+".shop.orders", "--resource", res)
	})
}
