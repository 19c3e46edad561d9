package cli

import (
	"context"
	"github.com/stile-dev/stile/internal/inspect"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
)

// TestResourceRoles: an applied role becomes a resource role; an admin can
// reveal its password (audited, not in the session), the password logs in,
// and --rotate-password replaces it in place.
func TestResourceRoles(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--audit-file " + auditFile})
	res := p + "_r"
	h.addResource(res, tg)
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	role := field(doc, "role_name")
	if out := h.ok("", "roles", "list"); strings.Contains(out, role) {
		t.Fatalf("a role that was only planned is listed:\n%s", out)
	}
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	if out := h.ok("", "roles", "list"); !strings.Contains(out, role) || !strings.Contains(out, "disable") {
		t.Fatalf("roles list:\n%s", out)
	}
	show := h.ok("", "roles", "show", role)
	if !strings.Contains(show, "has_password: true") || !strings.Contains(show, "name: "+role) {
		t.Fatalf("roles show:\n%s", show)
	}
	if js := h.ok("", "roles", "show", role, "--json"); !strings.Contains(js, `"has_password": true`) {
		t.Fatalf("roles show --json:\n%s", js)
	}
	if y := h.ok("", "roles", "show", role, "-o", "yaml"); !strings.Contains(y, "has_password: true") || strings.Contains(y, "{") {
		t.Fatalf("roles show -o yaml:\n%s", y)
	}
	pw := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	if strings.Contains(show, pw) {
		t.Fatal("roles show printed the password")
	}
	if len(pw) != 32 {
		t.Fatalf("revealed password %q", pw)
	}
	if ok, err := inspect.CheckLogin(context.Background(), tg, role, pw); err != nil || !ok {
		t.Fatalf("login with the revealed password: %v %v", ok, err)
	}
	if out := h.ok("", "sessions", "list", "--kind", "reveal", "--json"); !strings.Contains(out, role) || strings.Contains(out, pw) {
		t.Fatalf("the reveal session is missing or holds the password:\n%s", out)
	}
	h.fails(1, "does not exist", "", "roles", "reveal", "nope")

	doc = h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT", "--rotate-password")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	pw2 := strings.TrimSpace(h.ok("", "roles", "reveal", role))
	if pw2 == pw {
		t.Fatal("--rotate-password kept the password")
	}
	if ok, _ := inspect.CheckLogin(context.Background(), tg, role, pw); ok {
		t.Error("the old password still logs in")
	}
	if ok, err := inspect.CheckLogin(context.Background(), tg, role, pw2); err != nil || !ok {
		t.Fatalf("login with the rotated password: %v %v", ok, err)
	}

	// Retirement: plan, apply; the role is gone and what it owned went to
	// the database's owner.
	c.Exec(t, p+"_app", `CREATE TABLE public.mine (id int)`, `ALTER TABLE public.mine OWNER TO "`+role+`"`)
	doc = h.ok("", "roles", "delete", role)
	for _, want := range []string{"retire: true", `REASSIGN OWNED BY "` + role + `" TO "postgres"`, `DROP OWNED BY "` + role + `"`, `DROP ROLE "` + role + `"`} {
		if !strings.Contains(doc, want) {
			t.Fatalf("retirement plan lacks %s:\n%s", want, doc)
		}
	}
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	var n int
	conn := c.Conn(t, p+"_app")
	conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", role).Scan(&n)
	var owner string
	conn.QueryRow(context.Background(), "SELECT tableowner FROM pg_tables WHERE tablename = 'mine'").Scan(&owner)
	if n != 0 || owner != "postgres" {
		t.Fatalf("after retirement: role count %d, table owner %q", n, owner)
	}
	if out := h.ok("", "roles", "list"); strings.Contains(out, role) {
		t.Fatalf("the retired role is still a resource role:\n%s", out)
	}

	// Every session went to the audit file too (the server flushes it on
	// stop), and no password did.
	h.stop()
	h.stop = nil
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{`"kind":"plan"`, `"kind":"apply"`, `"kind":"reveal"`} {
		if !strings.Contains(string(data), kind) {
			t.Errorf("audit file lacks %s", kind)
		}
	}
	if strings.Contains(string(data), pw) || strings.Contains(string(data), pw2) || strings.Contains(string(data), tg.Password) {
		t.Fatal("the audit file holds a password")
	}
}
