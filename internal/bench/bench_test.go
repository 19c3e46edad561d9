// Package bench measures planning at fleet scale against a real cluster:
// 5 databases × 20 schemas × 50 tables, each with a serial sequence.
//
//	make bench   (or: go test -run '^$' -bench . -benchtime 1x ./internal/bench/)
package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/target"
)

// fixture is what a benchmark builds on each cluster (databases × schemas
// × tables, each table with a serial) and how many roles it converges.
type fixture struct {
	name                              string
	databases, schemas, tables, roles int
}

// The fixtures: the fleet (5 × 20 × 50, 200 roles), the fleet ten times
// over (50 databases, 2,000 roles) and the fleet with ten times the tables
// per schema (the same 200 roles).
var (
	fleet    = fixture{"fleet", 5, 20, 50, 200}
	fleet10x = fixture{"fleet-10x", 50, 20, 50, 2000}
	wide     = fixture{"wide", 5, 20, 500, 200}
)

func (fx fixture) String() string {
	return fmt.Sprintf("%s (%d × %d × %d)", fx.name, fx.databases, fx.schemas, fx.tables)
}

// fixtureFor returns the fixture STILE_BENCH_FIXTURE names (fleet, the
// default; fleet-10x; wide).
func fixtureFor(b *testing.B) fixture {
	name := os.Getenv("STILE_BENCH_FIXTURE")
	for _, fx := range []fixture{fleet, fleet10x, wide} {
		if name == fx.name || (name == "" && fx == fleet) {
			return fx
		}
	}
	b.Fatalf("STILE_BENCH_FIXTURE=%s: want fleet, fleet-10x or wide", name)
	return fixture{}
}

// build makes fx's databases on c, each a copy of one template database
// (CREATE DATABASE … TEMPLATE copies its files: a database of 2,000
// relations takes a fraction of a second instead of several).
func build(b *testing.B, c pgtest.Cluster, p string, fx fixture) {
	start := time.Now()
	tmpl := p + "_template"
	c.Exec(b, "postgres", "CREATE DATABASE "+tmpl)
	for s := range fx.schemas {
		// A schema per transaction: all of wide's 10,000 tables in one
		// run out of lock slots (max_locks_per_transaction).
		var sql strings.Builder
		fmt.Fprintf(&sql, "CREATE SCHEMA s%02d;\n", s)
		for t := range fx.tables {
			fmt.Fprintf(&sql, "CREATE TABLE s%02d.t%02d (id serial PRIMARY KEY, v text);\n", s, t)
		}
		c.Exec(b, tmpl, sql.String())
	}
	for d := range fx.databases {
		c.Exec(b, "postgres", fmt.Sprintf("CREATE DATABASE %s_db%d TEMPLATE %s", p, d, tmpl))
	}
	b.Logf("fixture %s: %d databases × %d schemas × %d tables built in %s", fx.name, fx.databases, fx.schemas, fx.tables, time.Since(start).Round(time.Millisecond))
}

func inputs(tg target.Target, p string, hasPW bool) []plan.Input {
	out := make([]plan.Input, fleet.roles)
	for i := range out {
		r, _ := spec.Role{
			Resource: p, Label: fmt.Sprintf("r%03d", i),
			Scopes:     []string{fmt.Sprintf("%s_db%d.s%02d", p, i%fleet.databases, i%fleet.schemas)},
			Privileges: []string{"SELECT", "INSERT"},
		}.Normalize()
		name, _ := spec.RoleName("stile", p, r.Label)
		out[i], _ = plan.NewInput(r, name)
		out[i].Host, out[i].Port, out[i].AdminUser, out[i].HasPassword = tg.Host, tg.Port, tg.User, hasPW
	}
	return out
}

// BenchmarkPlan reports: one role over all 5 databases; 200 roles in one
// batch (one catalog read per database); and the steady-state re-plan of
// those 200 after they are applied. Every read connects anew (the target has
// no idle pool): the cold figure a one-shot tool pays.
func BenchmarkPlan(b *testing.B) {
	c := pgtest.First(b)
	p := c.Prefix(b)
	tg := c.Target()
	build(b, c, p, fleet)
	ctx := context.Background()

	all := make([]string, fleet.databases)
	for d := range all {
		all[d] = fmt.Sprintf("%s_db%d", p, d)
	}
	one, _ := spec.Role{Resource: p, Label: "wide", Scopes: all, Privileges: []string{"SELECT"}}.Normalize()
	oneName, _ := spec.RoleName("stile", p, "wide")
	wideIn, _ := plan.NewInput(one, oneName)
	wideIn.Host, wideIn.Port, wideIn.AdminUser = tg.Host, tg.Port, tg.User
	wide := []plan.Input{wideIn}

	measure := func(name string, in []plan.Input, want string) {
		b.Run(name, func(b *testing.B) {
			var reading, planning time.Duration
			for b.Loop() {
				t0 := time.Now()
				snap, err := apply.Inspect(ctx, tg, in)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				batch := plan.NewBatch(snap)
				for _, i := range in {
					if r := batch.Make(i); r.Status != want {
						b.Fatalf("%s: status %s (%s), want %s", i.RoleName, r.Status, r.Message, want)
					}
				}
				reading += t1.Sub(t0)
				planning += time.Since(t1)
			}
			b.ReportMetric(float64(reading.Milliseconds())/float64(b.N), "inspect-ms/op")
			b.ReportMetric(float64(planning.Milliseconds())/float64(b.N), "plan-ms/op")
		})
	}
	measure("one_role_5_databases", wide, plan.ItemOutOfSync)
	batch := inputs(tg, p, false)
	measure("200_roles_batch", batch, plan.ItemOutOfSync)

	start := time.Now()
	for _, in := range batch {
		res, err := apply.Plan(ctx, tg, []plan.Input{in})
		if err != nil {
			b.Fatal(err)
		}
		rep := apply.Run(ctx, apply.Job{Target: tg, Input: in, Checksum: res[0].Document.Checksum, Verifier: secret.ScramVerifier(secret.NewPassword())})
		if rep.Outcome != apply.Applied {
			b.Fatalf("apply %s: %s %s\n%s", in.RoleName, rep.Outcome, rep.Message, rep.Output)
		}
	}
	b.Logf("applied %d roles one by one in %s", fleet.roles, time.Since(start).Round(time.Millisecond))
	measure("200_roles_steady_state", inputs(tg, p, true), plan.ItemInSync)
}
