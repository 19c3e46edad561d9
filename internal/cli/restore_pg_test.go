package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/secret"
)

// TestRestorePostgresStore follows docs/deployment.md's procedure for the
// PostgreSQL store: pg_dump it, pg_restore the dump into an empty
// database, then stile restore --store checks it. With another data key
// the check and a server's start are refused, and the check records
// nothing; with the store's key the audit chain verifies, the secrets
// open, and a server on the restored store reaches the database with the
// restored admin credentials.
func TestRestorePostgresStore(t *testing.T) {
	c := oldestCluster(t) // Debian's pg_dump is 15's: it dumps 15 and older
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)
	data := t.TempDir()
	h := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL})
	res := p + "_r"
	h.addResource(res, c.Target())
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	h.stop()
	h.stop = nil

	dump := filepath.Join(t.TempDir(), "store.dump")
	pgTool(t, "pg_dump", "--format=custom", "--file", dump, "--dbname", storeURL)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_restored")
	restored := databaseURL(t, c, p+"_restored")
	pgTool(t, "pg_restore", "--no-owner", "--exit-on-error", "--dbname", restored, dump)

	key, err := secret.LoadKey(filepath.Join(data, "secret.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	id := secret.KeyID(key)
	other := make([]byte, secret.KeySize)
	rand.Read(other)
	h.vars["STILE_STORE"] = restored
	h.vars["STILE_SECRET_KEY"] = base64.StdEncoding.EncodeToString(other)
	h.fails(1, "sealed with data key "+id, "", "restore")
	h.fails(1, "sealed with data key "+id, "", "server", "--listen", "127.0.0.1:0")
	var recorded string
	if err := c.Conn(t, p+"_restored").QueryRow(context.Background(), "SELECT value FROM stile_meta WHERE key = 'data_key_id'").Scan(&recorded); err != nil || recorded != id {
		t.Fatalf("the restored store's recorded key: %q, %v; want %s", recorded, err, id)
	}
	h.fails(1, "process lists", "", "restore", "--store", restored)
	h.fails(1, "not both", "", "restore", dump, "--store", "postgres://stile@db/stile")

	delete(h.vars, "STILE_SECRET_KEY")
	out := h.ok("", "restore", "--key-file", filepath.Join(data, "secret.key"))
	if !strings.Contains(out, "1 resources, 1 roles; audit chain verified") || !strings.Contains(out, "2 secrets open with data key "+id) || strings.Contains(out, c.Target().Password) {
		t.Fatalf("restore --store: %s", out)
	}
	r := startServerWith(t, data, map[string]string{"STILE_STORE": restored})
	if out := r.ok("", "resources", "health", res); !strings.Contains(out, "status: ok") {
		t.Fatalf("health on the restored store:\n%s", out)
	}
}

// oldestCluster is the test cluster of the lowest major version.
func oldestCluster(t *testing.T) pgtest.Cluster {
	t.Helper()
	all := pgtest.Clusters(t)
	oldest := all[0]
	for _, c := range all[1:] {
		if c.Major() < oldest.Major() {
			oldest = c
		}
	}
	return oldest
}

// pgTool runs one of PostgreSQL's client programs.
func pgTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}
