package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/sqlq"
)

// peer is ldap2pg, measured next to stile in BenchmarkCLI when the LDAP2PG
// environment variable names its binary (built outside the project: see
// docs/bench.md). It manages its own 200 roles, PREFIX_l2p_NNN, never
// stile's: role i gets what stile's label-i gets (CONNECT on database
// i%5, USAGE on schema i%20, SELECT on its tables and sequences, and the
// admin's default privileges in it for both), from a static YAML with no
// LDAP.
type peer struct {
	bin    string
	config string
	env    []string
	names  []string
	peakKB float64 // the largest peak resident set of its runs, kB
	last   string  // the summary line of its last run
}

// newPeer returns nil without LDAP2PG. It writes the YAML for the fixture
// of prefix on c into dir.
func newPeer(b *testing.B, c pgtest.Cluster, prefix, dir string, fx fixture) *peer {
	bin := os.Getenv("LDAP2PG")
	if bin == "" {
		return nil
	}
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil {
		b.Fatalf("LDAP2PG=%s: %v\n%s", bin, err, out)
	} else {
		b.Logf("peer: %s", strings.SplitN(string(out), "\n", 2)[0])
	}
	tg := c.Target()
	p := &peer{bin: bin, config: filepath.Join(dir, "ldap2pg.yml")}
	for i := range fx.roles {
		p.names = append(p.names, fmt.Sprintf("%s_l2p_%03d", prefix, i))
	}
	if err := os.WriteFile(p.config, []byte(peerYAML(prefix, tg.User, p.names, fx)), 0o600); err != nil {
		b.Fatal(err)
	}
	// A clean environment: libpq variables only (ldap2pg reads no
	// connection flags), so no LDAP2PG_* or LDAP* setting of the caller
	// changes what it does.
	p.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir,
		"PGHOST=" + tg.Host, "PGPORT=" + strconv.Itoa(tg.Port), "PGUSER=" + tg.User,
		"PGPASSWORD=" + tg.Password, "PGDATABASE=" + prefix + "_db0", "PGSSLMODE=disable",
	}
	return p
}

// run runs ldap2pg once: --real converges; otherwise a dry run with
// --check, which exits 1 when anything is out of sync, so a steady run
// that would change something fails the benchmark.
func (p *peer) run(b *testing.B, real bool) time.Duration {
	b.Helper()
	args := []string{"--config", p.config, "--check"}
	if real {
		args = []string{"--config", p.config, "--real"}
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Env, cmd.Dir = p.env, filepath.Dir(p.config)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("ldap2pg: %v", err)
	}
	// Its peak RSS is read from /proc while it runs: the rusage of a
	// child that Go starts with vfork counts this process's own peak
	// (Linux records the shared mm's high-water mark at exec).
	done, peak := make(chan struct{}), make(chan float64, 1)
	go func() {
		kb := 0.0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			kb = max(kb, vmHWM(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)))
			select {
			case <-done:
				peak <- kb
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	took := time.Since(start)
	close(done)
	p.peakKB = max(p.peakKB, <-peak)
	if err != nil {
		b.Fatalf("ldap2pg %s: %v\n%s", strings.Join(args, " "), err, lastLines(out.String(), 10))
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		if strings.Contains(line, "elapsed=") {
			p.last = line
		}
	}
	return took
}

// peerYAML is the ldap2pg configuration equivalent to roleFile's n roles on
// one cluster. ldap2pg manages only the roles named PREFIX_l2p_* and only
// the fixture's databases (public is not managed, as stile leaves it be).
//
// Default privileges: ldap2pg inspects SCHEMA DEFAULT grants only for
// owners it manages (privileges.Inspect skips any other owner), and the
// fixture's schemas and tables belong to the admin, which ldap2pg
// blacklists and must not manage on a shared cluster. With the builtin ACL
// every run would grant the defaults again and never be a no-op, so two
// custom ACLs (a documented ldap2pg feature, docs/guides/acls.md) inspect
// and grant the admin's default privileges per schema: the same statements
// stile runs.
func peerYAML(prefix, admin string, names []string, fx fixture) string {
	var sb strings.Builder
	sb.WriteString("version: 6\npostgres:\n  managed_roles_query: |\n")
	fmt.Fprintf(&sb, "    SELECT rolname FROM pg_catalog.pg_roles WHERE rolname LIKE %s ORDER BY 1\n", sqlq.Literal(prefix+`\_l2p\_%`))
	sb.WriteString("  databases_query: [")
	for d := range fx.databases {
		if d > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s_db%d", prefix, d)
	}
	sb.WriteString("]\nacls:\n")
	for _, k := range []struct{ code, kind string }{{"r", "TABLES"}, {"S", "SEQUENCES"}} {
		fmt.Fprintf(&sb, `  ADMIN DEFAULT %[3]s:
    scope: database
    inspect: |
      SELECT grt.privilege_type AS "privilege", n.nspname AS "object",
             COALESCE(grantee.rolname, 'public') AS grantee, FALSE AS partial
      FROM pg_catalog.pg_default_acl AS d
      JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace
      CROSS JOIN aclexplode(d.defaclacl) AS grt
      LEFT OUTER JOIN pg_catalog.pg_roles AS grantee ON grantee.oid = grt.grantee
      WHERE d.defaclrole = %[1]s::regrole AND d.defaclobjtype = '%[2]s'
        AND grt.privilege_type = ANY ($1)
      ORDER BY 2, 3, 1
    grant: ALTER DEFAULT PRIVILEGES FOR ROLE %[4]s IN SCHEMA <schema> GRANT <privilege> ON %[3]s TO <grantee>;
    revoke: ALTER DEFAULT PRIVILEGES FOR ROLE %[4]s IN SCHEMA <schema> REVOKE <privilege> ON %[3]s FROM <grantee>;
`, sqlq.Literal(admin), k.code, k.kind, sqlq.Ident(admin))
	}
	sb.WriteString(`privileges:
  ro:
  - __connect__
  - __usage_on_schemas__
  - __select_on_all_tables__
  - __select_on_all_sequences__
  - type: SELECT
    on: ADMIN DEFAULT TABLES
  - type: SELECT
    on: ADMIN DEFAULT SEQUENCES
rules:
`)
	for i, name := range names {
		fmt.Fprintf(&sb, "- role:\n    name: %s\n    options: LOGIN\n  grant:\n    privilege: ro\n    role: %s\n    database: %s_db%d\n    schema: s%02d\n",
			name, name, prefix, i%fx.databases, i%fx.schemas)
	}
	return sb.String()
}

// resetPeak starts a new peak for the next runs; nil (no LDAP2PG) does
// nothing.
func (p *peer) resetPeak() {
	if p != nil {
		p.peakKB = 0
	}
}
