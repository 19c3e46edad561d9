// Package bench measures planning at fleet scale against a real cluster:
// 5 databases × 20 schemas × 50 tables, each with a serial sequence.
//
//	make bench   (or: go test -run '^$' -bench . -benchtime 1x ./internal/bench/)
package bench

import (
	"context"
	"fmt"
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

const (
	databases = 5
	schemas   = 20
	tables    = 50
	roles     = 200
)

func build(b *testing.B, c pgtest.Cluster, p string) {
	start := time.Now()
	for d := range databases {
		db := fmt.Sprintf("%s_db%d", p, d)
		c.Exec(b, "postgres", "CREATE DATABASE "+db)
		var sql strings.Builder
		for s := range schemas {
			fmt.Fprintf(&sql, "CREATE SCHEMA s%02d;\n", s)
			for t := range tables {
				fmt.Fprintf(&sql, "CREATE TABLE s%02d.t%02d (id serial PRIMARY KEY, v text);\n", s, t)
			}
		}
		c.Exec(b, db, sql.String())
	}
	b.Logf("fixture: %d databases × %d schemas × %d tables built in %s", databases, schemas, tables, time.Since(start).Round(time.Millisecond))
}

func inputs(tg target.Target, p string, hasPW bool) []plan.Input {
	out := make([]plan.Input, roles)
	for i := range out {
		r, _ := spec.Role{
			Resource: p, Label: fmt.Sprintf("r%03d", i),
			Scopes:     []string{fmt.Sprintf("%s_db%d.s%02d", p, i%databases, i%schemas)},
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
	build(b, c, p)
	ctx := context.Background()

	all := make([]string, databases)
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
	b.Logf("applied %d roles one by one in %s", roles, time.Since(start).Round(time.Millisecond))
	measure("200_roles_steady_state", inputs(tg, p, true), plan.ItemInSync)
}
