package service

import (
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/spec"
)

// TestGenerateNotes: generate declares what the model can say and notes,
// with what planning does about it, the rest: a creator whose new objects
// the role gets nothing from, functions, a schema with grants on some
// objects only, memberships it cannot keep, attributes; superusers and
// roles holding nothing on a whole schema are skipped with the reason.
func TestGenerateNotes(t *testing.T) {
	h := func(db, schema, kind, priv string, objects, of int) inspect.Holding {
		return inspect.Holding{Database: db, Schema: schema, Kind: kind, Privilege: priv, Objects: objects, Of: of}
	}
	def := func(schema, kind, priv, creator string) inspect.Holding {
		return inspect.Holding{Database: "shop", Schema: schema, Kind: kind, Privilege: priv, Default: true, For: creator}
	}
	role := func(name string, login bool, holds ...inspect.Holding) inspect.DiscoveredRole {
		return inspect.DiscoveredRole{Name: name, Login: login, Inherit: true, ConnLimit: -1, Holds: holds, Stile: "unmanaged"}
	}
	owner := role("owner", true, h("shop", "", "database", "OWNER", 1, 1), h("shop", "app", "schema", "OWNER", 1, 1),
		h("shop", "app", "table", "OWNER", 2, 2), h("shop", "app", "function", "OWNER", 1, 1), h("shop", "old", "table", "OWNER", 3, 3))
	// public is pg_database_owner's (no OWNER row): its creators are the
	// owners of its objects and the database's owner.
	migrator := role("migrator", true, h("shop", "app", "schema", "CREATE", 1, 1), h("shop", "public", "table", "OWNER", 1, 1))
	ro := role("ro", true, h("shop", "", "database", "CONNECT", 1, 1), h("shop", "app", "schema", "USAGE", 1, 1),
		h("shop", "app", "table", "SELECT", 2, 2), h("shop", "app", "table", "DELETE", 1, 2), def("app", "table", "SELECT", "owner"),
		h("shop", "old", "table", "SELECT", 1, 3),
		h("shop", "public", "schema", "USAGE", 1, 1), h("shop", "public", "table", "SELECT", 1, 1), def("public", "table", "SELECT", "migrator"))
	ro.ConnLimit = 4
	ro.MemberOf = []catalog.Membership{{Role: "readers", Member: "ro", Inherit: true}, {Role: "pg_read_all_data", Member: "ro", Inherit: true}, {Role: "owner", Member: "ro", Inherit: true}}
	fn := role("fn", true, h("shop", "", "database", "CONNECT", 1, 1), h("shop", "app", "schema", "USAGE", 1, 1),
		h("shop", "app", "table", "SELECT", 2, 2), def("app", "table", "SELECT", "owner"), def("app", "table", "SELECT", "migrator"),
		h("shop", "app", "function", "EXECUTE", 1, 1))
	readers := role("readers", false, h("shop", "", "database", "CONNECT", 1, 1), h("shop", "app", "schema", "USAGE", 1, 1),
		h("shop", "app", "table", "SELECT", 2, 2), def("app", "table", "SELECT", "owner"), def("app", "table", "SELECT", "migrator"))
	readers.MemberOf = []catalog.Membership{{Role: "legacy", Member: "readers", Inherit: true}}
	legacy := role("legacy", false)
	dba := role("dba", true)
	dba.Superuser = true
	d := inspect.Discovery{Roles: []inspect.DiscoveredRole{owner, migrator, ro, fn, readers, legacy, dba}}

	g := generate("prod", "owner", d, []string{"ro", "fn", "readers", "dba", "legacy"})
	items := map[string]spec.Role{}
	for _, it := range g.Items {
		items[it.Name] = it
	}
	if r := items["ro"]; r.Type != spec.Managed || !r.Adopt || strings.Join(r.Scopes, ",") != "shop.app,shop.public" || strings.Join(r.Privileges, ",") != "SELECT" || strings.Join(r.MemberOf, ",") != "readers" {
		t.Errorf("ro: %+v", r)
	}
	if r := items["fn"]; strings.Join(r.Privileges, ",") != "SELECT,EXECUTE" {
		t.Errorf("fn: %+v", r)
	}
	if r := items["readers"]; r.Type != spec.Group || len(r.MemberOf) != 0 {
		t.Errorf("readers: %+v", r)
	}
	if _, ok := items["legacy"]; ok {
		t.Errorf("legacy, a group that holds nothing, is generated: %+v", items["legacy"])
	}
	notes := map[string]string{}
	for _, u := range g.Unexpressed {
		notes[u.Role] += u.Plan + ": " + u.What + "\n"
	}
	for role, want := range map[string][]string{
		"ro": {
			"reset: connection limit 4",
			"revoke: membership in pg_read_all_data (a built-in role)",
			"revoke: membership in owner, which logs in",
			"revoke: DELETE on some tables of shop.app",
			"grant: default privileges in shop.app for what migrator create(s)",
			"revoke: SELECT on some tables in shop.old, which holds no privilege on every table",
			"grant: default privileges in shop.public for what owner create(s)",
		},
		"fn":      {},
		"readers": {"revoke: membership in legacy: groups of groups are not declared yet"},
	} {
		for _, w := range want {
			if !strings.Contains(notes[role], w) {
				t.Errorf("%s's notes lack %q:\n%s", role, w, notes[role])
			}
		}
		if len(want) == 0 && notes[role] != "" {
			t.Errorf("%s has notes:\n%s", role, notes[role])
		}
	}
	var skipped []string
	for _, s := range g.Skipped {
		skipped = append(skipped, s.Role+": "+s.What)
	}
	got := strings.Join(skipped, "\n")
	for _, w := range []string{"dba: a superuser", "legacy: it holds no privilege on a whole schema: a group without one"} {
		if !strings.Contains(got, w) {
			t.Errorf("skipped lacks %q:\n%s", w, got)
		}
	}
}
