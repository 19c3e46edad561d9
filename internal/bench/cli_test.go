package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/cli"
	"github.com/stile-dev/stile/internal/daemon"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// BenchmarkCLI measures the whole path as people run it: the stile CLI (a
// process of the built binary) → HTTP → `stile server` (run in this
// process, so -cpuprofile sees the server, the built-in agent and the
// store) → PostgreSQL, on the fleet fixture. Next to each figure it
// reports the in-process figure of the same work in the same run
// (inspect and plan, no CLI, HTTP or store), so ratios compare across
// machines.
//
// The server keeps admin connections idle between requests (--admin-idle,
// default 1m), and so does the in-process figure, with a pool of its own:
// both are warm after the first request. BenchmarkPlan gives the cold figures.
//
// Sub-benchmarks: one role over 5 databases (plan); the first converge of
// 200 new roles, SELECT on one schema each (plan -f, then apply -f); the
// steady re-plan of those 200 (plan -f, all in sync); and apply -f of 200
// new roles spread over 1, 2 and 4 clusters (as many as are configured).
// Each first converge starts from the fixture alone (the previous set is
// dropped, untimed), and what the 200 roles hold is checked in the catalog.
//
// With LDAP2PG naming an ldap2pg binary, ldap2pg does the same work on the
// first cluster in the same run, from a generated static YAML (peerYAML),
// its runs alternating with stile's: the first converge (ldap2pg --real,
// from the fixture alone) and the steady no-op (a dry run with --check,
// both tools' 200 roles in place). Each sub-benchmark then reports
// ldap2pg's median, the median of stile's run over ldap2pg's run next to it
// (vs-ldap2pg-x) and ldap2pg's peak RSS, and the benchmark prints the table. server-peak-RSS-MB is this
// process's peak during the sub-benchmark: the server, its built-in agent
// and store, and the in-process figures. STILE_BENCH_REPLAN_PROFILE=FILE
// writes a CPU profile of stile's steady re-plans alone (profileReplans).
//
// STILE_BENCH_FIXTURE picks the fixture (fixtureFor): fleet, the default,
// as above; fleet-10x, 2,000 roles over 50 databases; wide, the fleet's
// 200 roles with 500 tables per schema. The larger two are built on the
// first cluster only, and skip the sub-benchmarks over several clusters.
func BenchmarkCLI(b *testing.B) {
	clusters := pgtest.Clusters(b)
	fx := fixtureFor(b)
	roles := fx.roles
	pool := target.NewPool(target.DefaultIdleTimeout, target.DefaultIdleMax)
	defer pool.Close()
	bin := filepath.Join(b.TempDir(), "stile")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/stile").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	if fx != fleet {
		// The larger fixtures compare with ldap2pg on the first cluster.
		clusters = clusters[:1]
	}
	prefixes := make([]string, len(clusters))
	for i, c := range clusters {
		prefixes[i] = c.Prefix(b)
		build(b, c, prefixes[i], fx)
	}
	dir := b.TempDir()
	addr := freeAddr(b)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan int, 1)
	go func() {
		served <- cli.Run(ctx, []string{"server", "--listen", addr, "--data", dir}, strings.NewReader(""), io.Discard, io.Discard, daemon.Commands)
	}()
	defer func() { stop(); <-served }()
	waitHealthy(b, "http://"+addr)
	env := append(os.Environ(), "STILE_URL=http://"+addr, "STILE_DATA="+dir)
	stile := func(stdin string, args ...string) (time.Duration, string) {
		b.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("stile %s: %v\n%s\n%s", strings.Join(args, " "), err, lastLines(out.String(), 5), errb.String())
		}
		return took, out.String()
	}
	resources := make([]string, len(clusters))
	for i, c := range clusters {
		tg := c.Target()
		resources[i] = prefixes[i] + "_res"
		csv := filepath.Join(dir, "inventory.csv")
		os.WriteFile(csv, fmt.Appendf(nil, "name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", resources[i], tg.Host, tg.Port), 0o600)
		stile("", "resources", "import", csv)
		stile(tg.Password+"\n", "resources", "admin", "set", resources[i], "--user", tg.User, "--password-stdin")
	}
	// roleFile writes a plan file of n roles, labelled label-i, each with
	// SELECT on one schema, spread round-robin over the first k clusters.
	roleFile := func(name, label string, n, k int) string {
		var sb strings.Builder
		sb.WriteString("items:\n")
		for i := range n {
			c := i % k
			fmt.Fprintf(&sb, "  - resource_name: %s\n    role: %s-%03d\n    scopes: [%s_db%d.s%02d]\n    privileges: [SELECT]\n", resources[c], label, i, prefixes[c], i%fx.databases, i%fx.schemas)
		}
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(sb.String()), 0o600)
		return path
	}
	// inProcess plans the same roles as a plan file of roleFile would, on
	// the first cluster, with inspect and the planner only.
	inProcess := func(label string, n int, hasPW bool) time.Duration {
		tg := clusters[0].Target().In(pool)
		ins := make([]plan.Input, n)
		for i := range ins {
			r, _ := spec.Role{Resource: resources[0], Label: fmt.Sprintf("%s-%03d", label, i),
				Scopes: []string{fmt.Sprintf("%s_db%d.s%02d", prefixes[0], i%fx.databases, i%fx.schemas)}, Privileges: []string{"SELECT"}}.Normalize()
			name, _ := spec.RoleName("stile", resources[0], r.Label)
			ins[i], _ = plan.NewInput(r, name)
			ins[i].Host, ins[i].Port, ins[i].AdminUser, ins[i].HasPassword = tg.Host, tg.Port, tg.User, hasPW
		}
		start := time.Now()
		if _, err := apply.Plan(context.Background(), tg, ins); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	seconds := func(d time.Duration, n int) float64 { return d.Seconds() / float64(n) }

	b.Run(fmt.Sprintf("one_role_%d_databases", fx.databases), func(b *testing.B) {
		all := make([]string, fx.databases)
		for d := range all {
			all[d] = fmt.Sprintf("%s_db%d", prefixes[0], d)
		}
		var cliT, inT time.Duration
		n := 0
		for b.Loop() {
			took, _ := stile("", "resources", "plan", resources[0], "--role", "wide", "--scopes", strings.Join(all, ","), "--privileges", "SELECT")
			cliT += took
			tg := clusters[0].Target().In(pool)
			r, _ := spec.Role{Resource: resources[0], Label: "wide", Scopes: all, Privileges: []string{"SELECT"}}.Normalize()
			name, _ := spec.RoleName("stile", resources[0], "wide")
			in, _ := plan.NewInput(r, name)
			in.Host, in.Port, in.AdminUser = tg.Host, tg.Port, tg.User
			start := time.Now()
			apply.Plan(context.Background(), tg, []plan.Input{in})
			inT += time.Since(start)
			n++
		}
		b.ReportMetric(seconds(cliT, n), "cli-s/op")
		b.ReportMetric(seconds(inT, n), "inprocess-s/op")
	})

	// The first cluster holds at most one stile set of 200 (label cur) and
	// ldap2pg's 200 (peerIn) at a time: each first converge starts from the
	// fixture alone, and the steady re-plans run with both sets present.
	admin := clusters[0].Target().User
	l2p := newPeer(b, clusters[0], prefixes[0], dir, fx)
	var cur, converged string
	peerIn := false
	stileNames := func(label string) []string {
		out := make([]string, roles)
		for i := range out {
			out[i], _ = spec.RoleName("stile", resources[0], fmt.Sprintf("%s-%03d", label, i))
		}
		return out
	}
	clearBench := func() {
		if cur != "" {
			dropRoles(b, clusters[0], prefixes[0], stileNames(cur), fx)
			cur = ""
		}
		if peerIn {
			dropRoles(b, clusters[0], prefixes[0], l2p.names, fx)
			peerIn = false
		}
	}
	// convergeStile runs plan -f and apply -f of 200 new roles, label-i,
	// and checks what they hold in the catalog.
	convergeStile := func(label string) (planned, applied time.Duration) {
		file := roleFile(label+".yaml", label, roles, 1)
		results := filepath.Join(dir, label+"-results.yaml")
		planned, _ = stile("", "resources", "plan", "-f", file, "-o", results)
		applied, out := stile("", "resources", "apply", "-f", results)
		if got := strings.Count(out, "  applied  "); got != roles {
			b.Fatalf("apply -f applied %d of %d:\n%s", got, roles, lastLines(out, 5))
		}
		cur, converged = label, file
		verifyGrants(b, clusters[0], prefixes[0], admin, "stile", stileNames(label), fx)
		return planned, applied
	}
	convergePeer := func() time.Duration {
		took := l2p.run(b, true)
		peerIn = true
		verifyGrants(b, clusters[0], prefixes[0], admin, "ldap2pg", l2p.names, fx)
		return took
	}
	var versuses []versus
	// reportPeak reports the server's peak RSS and, when ldap2pg ran, the
	// comparison v, which it adds to the table printed at the end.
	reportPeak := func(b *testing.B, v versus, peak bool, l2p *peer, versuses []versus) []versus {
		v.stileMB = peakRSS()
		b.ReportMetric(v.stileMB, "server-peak-RSS-MB")
		if !peak {
			b.Log("server-peak-RSS-MB is the process's lifetime peak: /proc/self/clear_refs is not writable")
		}
		if l2p == nil {
			return versuses
		}
		v.peerMB = l2p.peakKB / 1024
		v.report(b)
		b.Logf("ldap2pg's last run: %s", l2p.last)
		return append(versuses, v)
	}
	defer func() {
		if len(versuses) > 0 {
			// On stdout: a parent benchmark's log is not printed.
			fmt.Printf("\nstile vs ldap2pg on the first cluster, alternated runs, %s:\n%s\n", time.Now().UTC().Format(time.DateOnly), versusTable(versuses))
		}
	}()

	b.Run(fmt.Sprintf("first_converge_%d", roles), func(b *testing.B) {
		peak := resetPeakRSS()
		var planT, applyT, inT time.Duration
		v := versus{step: fmt.Sprintf("first converge of %d on %s (stile plan -f + apply -f; ldap2pg --real)", roles, fx)}
		n := 0
		for b.Loop() {
			label := fmt.Sprintf("c%d", n)
			inT += inProcess(label, roles, false)
			viaStile := func() {
				clearBench()
				p, a := convergeStile(label)
				planT, applyT = planT+p, applyT+a
				v.stile = append(v.stile, p+a)
			}
			viaPeer := func() {
				clearBench()
				v.peer = append(v.peer, convergePeer())
			}
			alternate(n, l2p != nil, viaStile, viaPeer)
			n++
		}
		b.ReportMetric(seconds(planT, n), "plan-s/op")
		b.ReportMetric(seconds(applyT, n), "apply-s/op")
		b.ReportMetric(seconds(planT+applyT, n), "cli-s/op")
		b.ReportMetric(seconds(inT, n), "inprocess-plan-s/op")
		// The cost per role, to compare across fixtures: it should not
		// grow with the number of roles.
		b.ReportMetric(1000*seconds(planT+applyT, n)/float64(roles), "cli-ms/role")
		versuses = reportPeak(b, v, peak, l2p, versuses)
	})

	b.Run(fmt.Sprintf("steady_replan_%d", roles), func(b *testing.B) {
		// Both sets in place, untimed (also when this sub-benchmark runs
		// alone: -bench CLI/steady).
		if cur == "" {
			convergeStile("steady")
		}
		if l2p != nil && !peerIn {
			convergePeer()
		}
		l2p.resetPeak()
		peak := resetPeakRSS()
		label := cur
		replan := func() time.Duration {
			took, out := stile("", "resources", "plan", "-f", converged, "--detailed-exitcode")
			if got := strings.Count(out, "in-sync"); got < roles {
				b.Fatalf("steady re-plan: %d of %d in sync", got, roles)
			}
			return took
		}
		var cliT, inT time.Duration
		v := versus{step: fmt.Sprintf("steady re-plan of %d on %s, nothing to do (stile plan -f; ldap2pg dry run --check)", roles, fx)}
		// A steady state is the one a re-plan leaves for the next: one
		// untimed run of each tool first. ldap2pg's converge takes longer
		// than the server keeps admin connections (--admin-idle), so
		// without it stile's first run connected to every database anew
		// (8.1 s against 2.8–4.0 s on fleet-10x).
		replan()
		if l2p != nil {
			l2p.run(b, false)
		}
		n := 0
		for b.Loop() {
			viaStile := func() {
				took := replan()
				cliT += took
				v.stile = append(v.stile, took)
			}
			viaPeer := func() { v.peer = append(v.peer, l2p.run(b, false)) }
			alternate(n, l2p != nil, viaStile, viaPeer)
			n++
		}
		// The in-process figure after the timed pairs, not between them:
		// its reads keep a second set of warm backends (the bench's own
		// pool), and alternating the two sets slowed the server's reads
		// (fleet-10x: 2.7 s a re-plan back to back, 3.5–4.2 s interleaved).
		inProcess(label, roles, true)
		for range n {
			inT += inProcess(label, roles, true)
		}
		b.ReportMetric(seconds(cliT, n), "cli-s/op")
		b.ReportMetric(seconds(inT, n), "inprocess-s/op")
		versuses = reportPeak(b, v, peak, l2p, versuses)
		profileReplans(b, replan)
	})

	if fx != fleet {
		b.Logf("apply_%d_on_k_clusters: skipped, the %s fixture is built on the first cluster only", roles, fx.name)
		return
	}
	for _, k := range []int{1, 2, 4} {
		if k > len(clusters) {
			b.Logf("apply_200_on_%d_clusters: skipped, %d cluster(s) configured (make bench starts 4)", k, len(clusters))
			continue
		}
		b.Run(fmt.Sprintf("apply_200_on_%d_clusters", k), func(b *testing.B) {
			var applyT time.Duration
			n := 0
			for b.Loop() {
				label := fmt.Sprintf("k%d-%d", k, n)
				results := filepath.Join(dir, label+"-results.yaml")
				stile("", "resources", "plan", "-f", roleFile(label+".yaml", label, roles, k), "-o", results)
				took, out := stile("", "resources", "apply", "-f", results)
				if got := strings.Count(out, "  applied  "); got != roles {
					b.Fatalf("apply -f applied %d of %d:\n%s", got, roles, lastLines(out, 5))
				}
				applyT += took
				n++
			}
			b.ReportMetric(seconds(applyT, n), "apply-s/op")
		})
	}
}

// alternate runs round n of a comparison: stile alone without a peer;
// otherwise stile then the peer on even rounds, the peer then stile on odd
// ones, so that neither always runs on the other's warm caches.
func alternate(n int, peer bool, viaStile, viaPeer func()) {
	switch {
	case !peer:
		viaStile()
	case n%2 == 0:
		viaStile()
		viaPeer()
	default:
		viaPeer()
		viaStile()
	}
}

func freeAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHealthy(b *testing.B, base string) {
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		if i > 400 {
			b.Fatal("the server did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
