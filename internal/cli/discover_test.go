package cli

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

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
