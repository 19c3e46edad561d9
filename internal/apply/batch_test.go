package apply_test

import (
	"context"
	"testing"

	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
)

// TestBatchRereadsAfterCreatorRemoved is issue 21 item 13: in one batch the
// writer, applied first, revokes a CREATE on app.s granted by hand; the
// reader's reviewed plan set default privileges FOR ROLE writer there.
// Re-planned against the batch's first read it still matched, and its stale
// SQL failed verify. The writer's apply changed who may create in s, so the
// reader is re-planned against a fresh read, which no longer matches its
// reviewed plan: refused as drift, nothing run; a new plan converges.
func TestBatchRereadsAfterCreatorRemoved(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		c.Exec(t, "postgres", "CREATE ROLE "+p+"_appowner NOLOGIN", "CREATE DATABASE "+p+"_app")
		c.Exec(t, p+"_app", "CREATE SCHEMA s AUTHORIZATION "+p+"_appowner", "CREATE SCHEMA w AUTHORIZATION "+p+"_appowner")
		f := &fixture{t: t, c: c, tg: c.Target(), p: p}
		writer := f.input(spec.Role{Resource: "res" + p, Label: "writer", Scopes: []string{p + "_app.w"}, Privileges: []string{"SELECT", "CREATE"}})
		f.converge(writer)
		c.Exec(t, p+"_app", `GRANT CREATE ON SCHEMA s TO "`+writer.RoleName+`"`)
		reader := f.input(spec.Role{Resource: "res" + p, Label: "reader", Scopes: []string{p + "_app.s"}, Privileges: []string{"SELECT"}})
		reader.HasPassword = false
		writer.HasPassword = true

		inputs := []plan.Input{reader, writer}
		plan.DeclareCreators(inputs)
		results, err := apply.Plan(context.Background(), f.tg, inputs)
		if err != nil {
			t.Fatal(err)
		}
		mustContain(t, results[0].Document.SQLPlan, `ALTER DEFAULT PRIVILEGES FOR ROLE "`+writer.RoleName+`" IN SCHEMA "s" GRANT SELECT ON TABLES`)
		mustContain(t, results[1].Document.SQLPlan, `REVOKE CREATE ON SCHEMA "s" FROM "`+writer.RoleName+`"`)
		order := plan.ApplyOrder(inputs)
		if order[0] != 1 {
			t.Fatalf("apply order %v, want the writer first", order)
		}
		var jobs []apply.Job
		for _, i := range order {
			job := apply.Job{Target: f.tg, Input: inputs[i], Checksum: results[i].Document.Checksum, State: results[i].Document.CurrentState}
			if results[i].NeedsPassword {
				job.Verifier = secret.ScramVerifier(secret.NewPassword())
			}
			jobs = append(jobs, job)
		}
		reps := apply.RunBatch(context.Background(), jobs, nil)
		if reps[0].Outcome != apply.Applied {
			t.Fatalf("writer: %s %s\n%s", reps[0].Outcome, reps[0].Message, reps[0].Output)
		}
		if reps[1].Outcome != apply.Drifted {
			t.Fatalf("reader after the writer stopped being a creator: %s %s, want drift\n%s", reps[1].Outcome, reps[1].Message, reps[1].Output)
		}
		f.converge(reader)
		f.mustBeInSync(reader)
		f.mustBeInSync(writer)
	})
}
