package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// BenchmarkSessionBookkeeping is what the store adds to one planned role:
// its session created, then finished with a 2 kB plan and the role
// upserted (FinishPlans), as the service does; since the audit chain, the
// finish also chains the session. Run it on an older commit for the
// chain's share.
func BenchmarkSessionBookkeeping(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "stile.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.UpsertResources(ctx, []spec.Resource{{Name: "a", Type: "postgres", Host: "h", Port: 1, Database: "postgres", SSLMode: "prefer"}}, "local"); err != nil {
		b.Fatal(err)
	}
	doc := strings.Repeat("GRANT SELECT ON ALL TABLES IN SCHEMA s TO r;\n", 45)
	i := 0
	for b.Loop() {
		i++
		label := fmt.Sprintf("r%d", i%200)
		s := store.Session{SID: fmt.Sprintf("s%07d", i), Kind: store.KindPlan, Resource: "a", Role: "stile_a_" + label, Label: label, Actor: "bench", CreatedAt: time.Now(), Status: "running", Input: "{}"}
		if err := db.CreateSessions(ctx, s); err != nil {
			b.Fatal(err)
		}
		s.Status, s.FinishedAt, s.Output, s.Document = "out-of-sync", time.Now(), doc, doc
		r := store.Role{Resource: "a", Label: label, RoleName: s.Role, Spec: spec.Role{Resource: "a", Label: label, Type: "managed", Scopes: []string{"app"}, Privileges: []string{"SELECT"}}}
		if err := db.FinishPlans(ctx, store.PlanFinish{Session: s, Role: &r}); err != nil {
			b.Fatal(err)
		}
	}
}
