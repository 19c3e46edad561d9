package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// TestBrownfield, on 15, 16 and 17, takes over a cluster built the way real
// ones are (roles made by hand, a group with members, a migrator owning
// the tables, a PUBLIC grant, a column grant): generate writes a file
// whose plan is in sync for every role it says all of, and changes only
// what its comments list for the others; adopting converges a role and
// leaves its password working; a new group and two members converge in one
// plan and one apply, and a member removed from member_of loses the
// membership; prune retires only what the file dropped, adopted roles only
// when asked.
func TestBrownfield(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		db := p + "_shop"
		n := func(s string) string { return p + "_" + s }
		c.Exec(t, "postgres", "CREATE DATABASE "+db,
			"CREATE ROLE "+n("migrator")+" LOGIN", "CREATE ROLE "+n("app_ro")+" LOGIN CONNECTION LIMIT 5 PASSWORD 'app-ro-secret'",
			"CREATE ROLE "+n("app_rw")+" LOGIN", "CREATE ROLE "+n("reporting")+" NOLOGIN",
			"CREATE ROLE "+n("alice")+" LOGIN", "CREATE ROLE "+n("bob")+" LOGIN",
			"GRANT "+n("reporting")+" TO "+n("alice")+", "+n("bob"),
			"GRANT CONNECT ON DATABASE "+db+" TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"))
		c.Exec(t, db, "CREATE SCHEMA shop AUTHORIZATION "+n("migrator"), "SET ROLE "+n("migrator"),
			"CREATE TABLE shop.orders (id serial PRIMARY KEY, total int)", "CREATE TABLE shop.customers (id int, email text)",
			"GRANT USAGE ON SCHEMA shop TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"),
			"GRANT SELECT ON ALL TABLES IN SCHEMA shop TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"),
			"GRANT SELECT ON ALL SEQUENCES IN SCHEMA shop TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"),
			"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"),
			"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON SEQUENCES TO "+n("app_ro")+", "+n("app_rw")+", "+n("reporting"),
			// What the model cannot say: a grant on one table, a column grant.
			"GRANT INSERT ON shop.orders TO "+n("app_rw"), "GRANT UPDATE (email) ON shop.customers TO "+n("app_rw"),
			"GRANT SELECT ON shop.customers TO PUBLIC", "RESET ROLE")
		h := startServer(t, t.TempDir())
		res := n("r")
		h.addResource(res, c.Target())
		ctx := context.Background()
		conn := c.Conn(t, db)
		check := func(q string, args ...any) bool {
			t.Helper()
			var ok bool
			if err := conn.QueryRow(ctx, q, args...).Scan(&ok); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return ok
		}

		// 1. Generate, and plan what it wrote.
		var gen api.Generated
		args := []string{"resources", "generate", res}
		for _, r := range []string{"migrator", "app_ro", "app_rw", "reporting", "alice", "bob"} {
			args = append(args, "--role", n(r))
		}
		if err := json.Unmarshal([]byte(h.ok("", append(args, "--json")...)), &gen); err != nil {
			t.Fatal(err)
		}
		byName := map[string]spec.Role{}
		for _, it := range gen.Items {
			byName[it.Name] = it
		}
		if r := byName[n("reporting")]; r.Type != spec.Group || !r.Adopt || strings.Join(r.Scopes, ",") != db+".shop" || strings.Join(r.Privileges, ",") != "SELECT" {
			t.Errorf("reporting generated as %+v", r)
		}
		if r := byName[n("alice")]; r.Type != spec.Managed || strings.Join(r.MemberOf, ",") != n("reporting") || len(r.Scopes) != 0 {
			t.Errorf("alice generated as %+v", r)
		}
		if r := byName[n("migrator")]; strings.Join(r.Privileges, ",") != "CREATE" {
			t.Errorf("migrator generated as %+v", r)
		}
		notes := map[string][]string{}
		for _, u := range gen.Unexpressed {
			notes[u.Role] = append(notes[u.Role], u.Plan+": "+u.What)
		}
		rw := strings.Join(notes[n("app_rw")], "\n")
		if !strings.Contains(rw, "revoke: INSERT on some tables of "+db+".shop") || !strings.Contains(rw, "revoke: UPDATE on columns of 1 table(s)") {
			t.Errorf("app_rw's notes:\n%s", rw)
		}
		if ro := notes[n("app_ro")]; len(ro) != 1 || !strings.Contains(ro[0], "connection limit 5") {
			t.Errorf("app_ro's notes: %q", ro)
		}
		file := h.write("generated.yaml", h.ok("", args...))
		text, _ := os.ReadFile(file)
		if !strings.Contains(string(text), "# not declared, for "+n("app_rw")+":") || !strings.Contains(string(text), "adopt: true") {
			t.Errorf("the generated file:\n%s", text)
		}
		var plans struct{ Results []api.PlanOutcome }
		if err := json.Unmarshal([]byte(h.ok("", "resources", "plan", "-f", file, "--json")), &plans); err != nil {
			t.Fatal(err)
		}
		// What each role's plan changes is what its notes say, statement by
		// statement: the notes' subject (the SQL each note stands for) and
		// nothing else.
		says := map[string][]string{
			n("app_rw"):   {"REVOKE INSERT ON TABLE \"shop\".\"orders\"", "REVOKE UPDATE (\"email\")"},
			n("app_ro"):   {"CONNECTION LIMIT -1"},
			n("migrator"): {"GRANT CONNECT ON DATABASE"},
		}
		for _, o := range plans.Results {
			want := "in-sync"
			if len(notes[o.RoleName]) > 0 {
				want = "out-of-sync"
			}
			if o.Status != want {
				t.Errorf("%s planned %s (%s), want %s; its notes: %q", o.RoleName, o.Status, o.Message, want, notes[o.RoleName])
			}
			if o.Document == nil {
				t.Fatalf("%s: no document", o.RoleName)
			}
			used := map[string]bool{}
			for _, b := range o.Document.Blocks {
				for _, st := range b.Steps {
					i := slices.IndexFunc(says[o.RoleName], func(w string) bool { return strings.Contains(st.SQL, w) })
					if i < 0 {
						t.Errorf("%s's plan runs %s, which its notes do not say: %q", o.RoleName, st.SQL, notes[o.RoleName])
						continue
					}
					used[says[o.RoleName][i]] = true
				}
			}
			if len(used) != len(says[o.RoleName]) {
				t.Errorf("%s's plan does only %v of what its notes say (%q):\n%s", o.RoleName, used, notes[o.RoleName], o.Document.SQLPlan)
			}
		}
		results := h.write("generated-results.yaml", "")
		h.ok("", "resources", "plan", "-f", file, "-o", results)
		h.ok("", "resources", "apply", "-f", results)
		if !check("SELECT has_table_privilege($1, 'shop.orders', 'SELECT') AND NOT has_table_privilege($1, 'shop.orders', 'INSERT') AND NOT has_column_privilege($1, 'shop.customers', 'email', 'UPDATE')", n("app_rw")) {
			t.Error("app_rw did not converge to its declaration")
		}
		var d api.Discovery
		if err := json.Unmarshal([]byte(h.ok("", "resources", "discover", res, "--role", n("app_ro"), "--json")), &d); err != nil || len(d.Roles) != 1 || d.Roles[0].Stile != "adopted" {
			t.Errorf("discover after adopting app_ro: %+v, %v", d.Roles, err)
		}

		// 2. Adopt converges a role and leaves its password working.
		decl := func(items ...string) string {
			return h.write("decl.yaml", "items:\n"+strings.Join(items, ""))
		}
		item := func(label, extra string) string {
			return fmt.Sprintf("  - {resource_name: %s, role: %s, %s}\n", res, label, extra)
		}
		group := item("readers", "type: group, scopes: ["+db+".shop], privileges: [SELECT]")
		base := []string{
			item(n("migrator"), "role_name: "+n("migrator")+", adopt: true, scopes: ["+db+".shop], privileges: [CREATE]"),
			item(n("app_ro"), "role_name: "+n("app_ro")+", adopt: true, scopes: ["+db+".shop], privileges: [SELECT, INSERT]"),
			item(n("app_rw"), "role_name: "+n("app_rw")+", adopt: true, scopes: ["+db+".shop], privileges: [SELECT]"),
			item(n("reporting"), "type: group, role_name: "+n("reporting")+", adopt: true, scopes: ["+db+".shop], privileges: [SELECT]"),
			item(n("bob"), "role_name: "+n("bob")+", adopt: true, member_of: ["+n("reporting")+"]"),
		}
		planApply := func(file string, extra ...string) []api.PlanOutcome {
			t.Helper()
			var out struct{ Results []api.PlanOutcome }
			if err := json.Unmarshal([]byte(h.ok("", append([]string{"resources", "plan", "-f", file, "--json", "-o", results}, extra...)...)), &out); err != nil {
				t.Fatal(err)
			}
			if code, stdout, stderr := h.stile("", "resources", "apply", "-f", results, "--json"); code != 0 {
				for _, line := range strings.Split(stdout, "\n") {
					var r struct{ SID string }
					json.Unmarshal([]byte(line), &r)
					_, so, _ := h.stile("", "sessions", "show", r.SID)
					t.Log(so)
				}
				t.Fatalf("apply -f: exit %d\n%s\n%s", code, stdout, stderr)
			}
			return out.Results
		}
		// 3. A new group and two members, one new and one adopted, in one
		// plan and one apply.
		withGroup := append(slices.Clone(base), group,
			item("m1", "member_of: [readers]"),
			item(n("alice"), "role_name: "+n("alice")+", adopt: true, member_of: ["+n("reporting")+", readers]"))
		var readers, m1 string
		for _, o := range planApply(decl(withGroup...)) {
			switch o.Label {
			case "readers":
				readers = o.RoleName
			case "m1":
				m1 = o.RoleName
			}
		}
		if !check("SELECT has_table_privilege($1, 'shop.orders', 'INSERT')", n("app_ro")) {
			t.Error("the adopted app_ro was not given INSERT")
		}
		if ac, err := c.As(n("app_ro"), "app-ro-secret").Connect(ctx, db); err != nil {
			t.Errorf("app_ro's own password no longer works after its adoption: %v", err)
		} else {
			ac.Close(ctx)
		}
		// Until a rotation, which gives stile a password for it.
		h.ok("", "roles", "rotate", n("app_ro"))
		if ac, err := c.As(n("app_ro"), "app-ro-secret").Connect(ctx, db); err == nil {
			ac.Close(ctx)
			t.Error("app_ro's old password still works after a rotation")
		}
		if !check("SELECT pg_has_role($1, $3, 'MEMBER') AND pg_has_role($2, $3, 'MEMBER') AND NOT pg_has_role($1, $3, 'USAGE') = false", m1, n("alice"), readers) {
			t.Errorf("%s and alice are not both members of %s", m1, readers)
		}
		if !check("SELECT has_table_privilege($1, 'shop.customers', 'SELECT') AND has_table_privilege($2, 'shop.orders', 'SELECT')", m1, n("alice")) {
			t.Error("the members do not hold the group's privileges")
		}
		for _, o := range planApply(decl(withGroup...)) {
			if o.Status != "in-sync" {
				t.Errorf("after one apply, %s is %s: %s", o.RoleName, o.Status, o.Message)
			}
		}
		// alice leaves readers.
		withGroup[len(withGroup)-1] = item(n("alice"), "role_name: "+n("alice")+", adopt: true, member_of: ["+n("reporting")+"]")
		planApply(decl(withGroup...))
		if check("SELECT pg_has_role($1, $2, 'MEMBER')", n("alice"), readers) || !check("SELECT pg_has_role($1, $2, 'MEMBER')", n("alice"), n("reporting")) {
			t.Error("alice, removed from readers' member_of, is still in it (or lost reporting)")
		}

		// A group is not retired while a kept role is declared its member.
		h.fails(1, "still has member "+res+"/m1", "", "roles", "delete", readers)

		// 4. Prune: the file drops m1 and the adopted alice.
		pruned := append(slices.Clone(base), group)
		var out struct{ Results []api.PlanOutcome }
		if err := json.Unmarshal([]byte(h.ok("", "resources", "plan", "-f", decl(pruned...), "--prune", "--json")), &out); err != nil {
			t.Fatal(err)
		}
		var retired []string
		for _, o := range out.Results {
			if o.Retire {
				retired = append(retired, o.RoleName)
			}
		}
		if strings.Join(retired, ",") != m1 {
			t.Errorf("--prune retires %q, want only %s", retired, m1)
		}
		h.fails(1, "--prune needs -f FILE", "", "resources", "plan", res, "--role", "x", "--scopes", db, "--privileges", "SELECT", "--prune")
		table := h.ok("", "resources", "plan", "-f", decl(pruned...), "--prune", "--prune-adopted")
		if !strings.Contains(table, "RETIRE (destructive)") || !strings.Contains(table, n("alice")) {
			t.Errorf("--prune-adopted:\n%s", table)
		}
		planApply(decl(pruned...), "--prune")
		if check("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", m1) || !check("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", n("alice")) {
			t.Error("prune did not retire m1 alone")
		}

		// Refusals: a role another declaration owns; a role named but not
		// adopted.
		h.fails(1, "a declared role's name does not change", "", "resources", "plan", "-f", decl(item(n("app_ro"), "role_name: "+n("app_ro")+"2, adopt: true, scopes: ["+db+".shop], privileges: [SELECT]")))
		h.fails(1, "is already declared by "+res+"/"+n("bob"), "", "resources", "plan", "-f", decl(item("bob2", "role_name: "+n("bob")+", adopt: true, member_of: ["+n("reporting")+"]")))
		var refused struct{ Results []api.PlanOutcome }
		code, stdout, _ := h.stile("", "resources", "plan", "-f", decl(item("mig", "role_name: "+p+"_nobody_yet, scopes: ["+db+".shop], privileges: [SELECT]"), item("mig2", "role_name: "+n("reporting")+"x, adopt: true, scopes: ["+db+".shop], privileges: [SELECT]")), "--json")
		if err := json.Unmarshal([]byte(stdout), &refused); err != nil || code != 1 || len(refused.Results) != 2 || refused.Results[0].Status != "out-of-sync" || !strings.Contains(refused.Results[1].Message, "nothing to adopt") {
			t.Errorf("a new role_name and a missing adoption: exit %d, %s", code, stdout)
		}
	})
}
