package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// Tamperable is a fresh store and a way to run SQL on it behind its back:
// exec runs q with {table} names rendered for the store.
type Tamperable struct {
	Store store.Store
	Exec  func(t *testing.T, q string)
}

// RunChain checks the audit chain: it verifies on an untouched store, and
// names the first session changed by an UPDATE, a DELETE, a reordering, a
// truncated tail or a row added by hand, each done in SQL.
func RunChain(t *testing.T, open func(t *testing.T) Tamperable) {
	// chained fills a store with six finished sessions, s1 to s6, finished
	// every way a session can be: recorded finished, finished later, failed
	// after a restart.
	chained := func(t *testing.T) Tamperable {
		tb := open(t)
		s := tb.Store
		must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
		base := time.Now().UTC().Add(-time.Hour)
		sess := func(sid string, i int, status string) store.Session {
			return store.Session{SID: sid, Kind: "plan", Resource: "a", Actor: "admin <ops@example.com>", CreatedAt: base.Add(time.Duration(i) * time.Second), Status: status, Input: `{"x": "<&>"}`}
		}
		must(t, s.CreateSessions(ctx, sess("s1", 1, "in-sync"), sess("s2", 2, "running"), sess("s3", 3, "running")))
		f := sess("s2", 2, "out-of-sync")
		f.FinishedAt, f.Output = base.Add(3*time.Second+123456789), "GRANT …"
		must(t, s.FinishSession(ctx, f))
		must(t, s.FinishPlans(ctx, store.PlanFinish{Session: func() store.Session { x := sess("s3", 3, "in-sync"); x.FinishedAt = time.Now(); return x }()}))
		must(t, s.CreateSessions(ctx, sess("s4", 4, "running"), sess("s5", 5, "in-sync")))
		n, err := s.FailRunning(ctx, "restarted", time.Now(), "", true)
		must(t, err)
		if n != 1 {
			t.Fatalf("FailRunning = %d, want 1", n)
		}
		must(t, s.CreateSessions(ctx, sess("s6", 6, "in-sync"), sess("r7", 7, "running")))
		return tb
	}
	verify := func(t *testing.T, s store.Store) store.ChainReport {
		t.Helper()
		rep, err := s.VerifyChain(ctx)
		must(t, err)
		return rep
	}
	wantBreak := func(t *testing.T, s store.Store, sid, words string) {
		t.Helper()
		rep := verify(t, s)
		if rep.OK || rep.SID != sid || !strings.Contains(rep.Problem, words) {
			t.Fatalf("verify = %+v, want a break at %s saying %q", rep, sid, words)
		}
	}

	t.Run("Untouched", func(t *testing.T) {
		tb := chained(t)
		rep := verify(t, tb.Store)
		if !rep.OK || rep.Sessions != 6 || rep.HeadSeq != 6 || rep.Problem != "" || rep.Since.IsZero() {
			t.Fatalf("verify = %+v, want 6 sessions, OK", rep)
		}
		// In the order they finished, each hash over the one before.
		order := []string{"s1", "s2", "s3", "s5", "s4", "s6"}
		prev := ""
		for i, sid := range order {
			got, err := tb.Store.Session(ctx, sid)
			must(t, err)
			if got.ChainSeq != int64(i+1) || got.ChainHash != store.ChainHash(prev, got.ChainSeq, got) {
				t.Fatalf("%s: seq %d hash %s, want seq %d chained to %q", sid, got.ChainSeq, got.ChainHash, i+1, prev)
			}
			prev = got.ChainHash
		}
		if rep.HeadHash != prev {
			t.Errorf("head %s, want the last session's %s", rep.HeadHash, prev)
		}
		if r, _ := tb.Store.Session(ctx, "r7"); r.ChainSeq != 0 || r.ChainHash != "" {
			t.Errorf("a running session is chained: %+v", r)
		}
		// A finished session is final.
		s6, _ := tb.Store.Session(ctx, "s6")
		s6.Output = "rewritten"
		wantCode(t, tb.Store.FinishSession(ctx, s6), errs.Conflict)
		if !verify(t, tb.Store).OK {
			t.Fatal("a refused finish broke the chain")
		}
	})
	t.Run("Update", func(t *testing.T) {
		tb := chained(t)
		tb.Exec(t, "UPDATE {sessions} SET output = 'nothing to see' WHERE sid = 's3'")
		wantBreak(t, tb.Store, "s3", "does not match its hash")
	})
	t.Run("UpdateRehashed", func(t *testing.T) {
		// Recomputing the edited session's own hash does not help: the
		// next one was hashed over the old one.
		tb := chained(t)
		tb.Exec(t, "UPDATE {sessions} SET status = 'failed' WHERE sid = 's3'")
		s3, _ := tb.Store.Session(ctx, "s3")
		s2, _ := tb.Store.Session(ctx, "s2")
		tb.Exec(t, "UPDATE {sessions} SET chain_hash = '"+store.ChainHash(s2.ChainHash, 3, s3)+"' WHERE sid = 's3'")
		wantBreak(t, tb.Store, "s5", "does not match its hash")
	})
	t.Run("Delete", func(t *testing.T) {
		tb := chained(t)
		tb.Exec(t, "DELETE FROM {sessions} WHERE sid = 's3'")
		wantBreak(t, tb.Store, "s5", "follows s2, but sessions 3 to 3 of the chain are missing")
	})
	t.Run("Reorder", func(t *testing.T) {
		tb := chained(t)
		tb.Exec(t, "UPDATE {sessions} SET chain_seq = 100 WHERE sid = 's2'")
		tb.Exec(t, "UPDATE {sessions} SET chain_seq = 2 WHERE sid = 's3'")
		tb.Exec(t, "UPDATE {sessions} SET chain_seq = 3 WHERE sid = 's2'")
		wantBreak(t, tb.Store, "s3", "does not match its hash")
	})
	t.Run("DeleteLast", func(t *testing.T) {
		tb := chained(t)
		tb.Exec(t, "DELETE FROM {sessions} WHERE sid = 's6'")
		wantBreak(t, tb.Store, "s4", "the last 1 were deleted")
	})
	t.Run("Added", func(t *testing.T) {
		tb := chained(t)
		tb.Exec(t, "UPDATE {sessions} SET status = 'in-sync' WHERE sid = 'r7'")
		wantBreak(t, tb.Store, "r7", "not in the chain")
	})
	t.Run("DumpLoad", func(t *testing.T) {
		src := chained(t).Store.(store.Dumper)
		d, err := src.Dump(ctx)
		must(t, err)
		dst := open(t).Store
		must(t, dst.(store.Dumper).Load(ctx, d))
		rep := verify(t, dst)
		if !rep.OK || rep.Sessions != 6 {
			t.Fatalf("verify after a move = %+v", rep)
		}
	})
}
