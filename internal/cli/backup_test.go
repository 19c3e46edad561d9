package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestBackupDuringApply: a backup taken while a 200-role batch apply runs
// restores to a store whose audit chain verifies and whose secrets open;
// a restore with another data key, onto a store already there, or of a
// file that is not a backup, is refused and changes nothing.
func TestBackupDuringApply(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_app"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	dir := t.TempDir()
	h := startServer(t, dir)
	res := p + "_r"
	h.addResource(res, c.Target())
	// One role applied before: the backup holds its password.
	doc := h.ok("", "resources", "plan", res, "--role", "first", "--scopes", db, "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	first := field(doc, "role_name")
	var b strings.Builder
	b.WriteString("items:\n")
	for i := range 200 {
		fmt.Fprintf(&b, "  - {resource_name: %s, role: r%d, scopes: [%s], privileges: [SELECT]}\n", res, i, db)
	}
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", h.write("plan.yaml", b.String()), "-o", results)

	done := make(chan string, 1)
	go func() {
		code, out, errOut := h.stile("", "resources", "apply", "-f", results)
		done <- fmt.Sprintf("exit %d\n%s%s", code, out, errOut)
	}()
	// Back up once the apply has begun: its first sessions are there.
	backup := filepath.Join(t.TempDir(), "stile.bak")
	for deadline := time.Now().Add(time.Minute); ; {
		if out := h.ok("", "sessions", "list", "--kind", "apply", "--json"); strings.Contains(out, `"sid"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := h.ok("", "backup", backup)
	running := true
	select {
	case r := <-done:
		running = false
		done <- r
	default:
	}
	t.Logf("%s(the apply was still running: %v)", out, running)
	if r := <-done; !strings.HasPrefix(r, "exit 0") {
		t.Fatalf("apply -f: %s", r)
	}
	h.fails(1, "exists: a backup never overwrites", "", "backup", backup)

	key, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	// Into an empty data directory with the same key: restored, checked.
	into := t.TempDir()
	if err := os.WriteFile(filepath.Join(into, "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := h.ok("", "restore", backup, "--data", into)
	// The admin credentials and the first role's password at least.
	if m := regexp.MustCompile(`audit chain verified \(\d+ sessions\); (\d+) secrets open`).FindStringSubmatch(restored); m == nil || m[1] == "0" || m[1] == "1" {
		t.Errorf("restore said: %s", restored)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(into, "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := st.VerifyChain(ctx)
	roles, rerr := st.Roles(ctx, res)
	st.Close()
	if err != nil || !rep.OK {
		t.Fatalf("the restored chain: %+v, %v", rep, err)
	}
	if rerr != nil || len(roles) != 201 {
		t.Fatalf("the restored store has %d roles (%v)", len(roles), rerr)
	}
	// A server on the restored store opens its secrets: the admin
	// credentials for a health check, a role's password to reveal it.
	h2 := startServer(t, into)
	h2.ok("", "resources", "health", res)
	pw := strings.TrimSpace(h2.ok("", "roles", "reveal", first))
	if conn, err := c.As(first, pw).Connect(ctx, db); err != nil {
		t.Errorf("the password restored for %s does not log in: %v", first, err)
	} else {
		conn.Close(ctx)
	}

	// Refusals, each leaving the data directory as it was.
	h.fails(1, "holds a store already: give --force", "", "restore", backup, "--data", into)
	other := t.TempDir()
	if _, _, err := secret.LoadOrCreateKey(filepath.Join(other, "secret.key"), ""); err != nil {
		t.Fatal(err)
	}
	h.fails(1, "was taken with data key "+secret.KeyID(key2(t, key)), "", "restore", backup, "--data", other)
	h.fails(1, "is not a stile store", "", "restore", filepath.Join(dir, "secret.key"), "--data", other)
	h.fails(1, "is not a stile backup", "", "restore", filepath.Join(dir, "stile.db"), "--data", other)
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("a refused restore left %d files in the data directory", len(entries))
	}
	// --force keeps the store it replaces.
	h.ok("", "restore", backup, "--data", into, "--force")
	if m, _ := filepath.Glob(filepath.Join(into, "stile.db.replaced-*")); len(m) != 1 {
		t.Errorf("the replaced store is not kept aside: %v", m)
	}

	// backup - writes the copy to standard output and what it did to
	// standard error (from a container without a shell or tar: kubectl
	// exec … stile backup - > FILE); what it wrote restores.
	code, stream, said := h.stile("", "backup", "-")
	if code != 0 || !strings.Contains(said, "backed up") || strings.Contains(stream, "backed up") {
		t.Fatalf("backup -: exit %d, stderr %q, %d bytes on stdout", code, said, len(stream))
	}
	streamed := filepath.Join(t.TempDir(), "streamed.db")
	if err := os.WriteFile(streamed, []byte(stream), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := h.ok("", "restore", streamed, "--data", t.TempDir(), "--key-file", filepath.Join(dir, "secret.key")); !strings.Contains(out, "1 resources, 201 roles; audit chain verified") {
		t.Errorf("restore of what backup - wrote: %s", out)
	}
	// restore - reads it from standard input (kubectl exec -i … < FILE).
	if out := h.ok(stream, "restore", "-", "--data", t.TempDir(), "--key-file", filepath.Join(dir, "secret.key")); !strings.Contains(out, "1 resources, 201 roles; audit chain verified") {
		t.Errorf("restore - of what backup - wrote: %s", out)
	}
	h.fails(1, "is not a stile store", "not a backup", "restore", "-", "--data", other)
}

// key2 decodes a key file's content.
func key2(t *testing.T, file []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "k")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := secret.LoadKey(path, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}
