package storetest

import (
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h"), resource("b", "h")}, "local"))
	base := time.Now().UTC()
	for i, x := range []struct{ sid, kind, res string }{{"s1", "health", "a"}, {"s2", "plan", "a"}, {"s3", "plan", "b"}, {"s4", "apply", "a"}} {
		must(t, s.CreateSessions(ctx, store.Session{SID: x.sid, Kind: x.kind, Resource: x.res, Actor: "admin", CreatedAt: base.Add(time.Duration(i) * time.Second), Status: "ok"}))
	}
	all, err := s.Sessions(ctx, store.SessionFilter{})
	must(t, err)
	if len(all) != 4 || all[0].SID != "s4" || all[3].SID != "s1" {
		t.Fatalf("Sessions = %v, want newest first", sids(all))
	}
	if got, _ := s.Sessions(ctx, store.SessionFilter{Resource: "a", Kind: "plan"}); len(got) != 1 || got[0].SID != "s2" {
		t.Errorf("filter resource+kind = %v", sids(got))
	}
	if got, _ := s.Sessions(ctx, store.SessionFilter{Since: base.Add(2 * time.Second)}); len(got) != 2 || got[1].SID != "s3" {
		t.Errorf("since = %v, want s4, s3", sids(got))
	}
	if got, _ := s.Sessions(ctx, store.SessionFilter{Since: base.Add(time.Second), Until: base.Add(3 * time.Second)}); len(got) != 2 || got[0].SID != "s3" || got[1].SID != "s2" {
		t.Errorf("since and until = %v, want s3, s2", sids(got))
	}
	if got, _ := s.Sessions(ctx, store.SessionFilter{Limit: 2}); len(got) != 2 {
		t.Errorf("limit 2 = %v", sids(got))
	}
	_, err = s.Session(ctx, "nope")
	wantCode(t, err, errs.NotFound)
	wantCode(t, s.FinishSession(ctx, store.Session{SID: "nope"}), errs.NotFound)
	// Times keep at least microseconds (PostgreSQL's precision).
	got, _ := s.Session(ctx, "s1")
	if d := got.CreatedAt.Sub(base); d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("created_at round trip: %v != %v", got.CreatedAt, base)
	}
	// Sub-second order survives storage.
	must(t, s.CreateSessions(ctx, store.Session{SID: "t1", Kind: "plan", Resource: "a", Actor: "admin", CreatedAt: base.Truncate(time.Second).Add(10*time.Second + 200*time.Millisecond), Status: "ok"}))
	must(t, s.CreateSessions(ctx, store.Session{SID: "t2", Kind: "plan", Resource: "a", Actor: "admin", CreatedAt: base.Truncate(time.Second).Add(10*time.Second + 220*time.Millisecond), Status: "ok"}))
	if got, _ := s.Sessions(ctx, store.SessionFilter{Limit: 2}); len(got) != 2 || got[0].SID != "t2" {
		t.Errorf("newest first across fractions: %v", sids(got))
	}
}

func sids(ss []store.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.SID)
	}
	return out
}

func testFailRunning(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	must(t, s.CreateSessions(ctx, store.Session{SID: "r1", Kind: "apply", Resource: "a", Actor: "admin", CreatedAt: time.Now().UTC().Add(-time.Hour), Status: "running"}))
	must(t, s.CreateSessions(ctx, store.Session{SID: "r2", Kind: "apply", Resource: "a", Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running", Replica: "other"}))
	must(t, s.CreateSessions(ctx, store.Session{SID: "r3", Kind: "apply", Resource: "a", Actor: "admin", CreatedAt: time.Now().UTC(), Status: "running", Replica: "me"}))
	must(t, s.CreateSessions(ctx, store.Session{SID: "d1", Kind: "plan", Resource: "a", Actor: "admin", CreatedAt: time.Now().UTC().Add(-time.Hour), Status: "in-sync"}))
	// An old connection of another replica is still open: only its
	// replica's restart (or a store of its own restarting) ends it.
	must(t, s.CreateSessions(ctx, store.Session{SID: "c1", Kind: store.KindConnect, Resource: "a", Actor: "ann", CreatedAt: time.Now().UTC().Add(-time.Hour), Status: "running", Replica: "other"}))
	n, err := s.FailRunning(ctx, "restarted", time.Now().UTC().Add(-time.Minute), "me", false)
	must(t, err)
	if n != 2 {
		t.Fatalf("FailRunning = %d, want 2 (the old one and this replica's)", n)
	}
	if c1, _ := s.Session(ctx, "c1"); c1.Status != "running" {
		t.Errorf("another replica's open connection was failed: %+v", c1)
	}
	if n, err := s.FailRunning(ctx, "restarted", time.Now().UTC().Add(-time.Minute), "me", true); err != nil || n != 1 {
		t.Errorf("FailRunning with connections = %d, %v; want the old connection", n, err)
	}
	if r3, _ := s.Session(ctx, "r3"); r3.Status != "failed" || r3.Replica != "me" {
		t.Errorf("this replica's running session = %+v", r3)
	}
	r, _ := s.Session(ctx, "r1")
	if r.Status != "failed" || r.ExitCode != 1 || r.Message != "restarted" || r.FinishedAt.IsZero() {
		t.Errorf("failed session = %+v", r)
	}
	if r2, _ := s.Session(ctx, "r2"); r2.Status != "running" {
		t.Errorf("a session newer than the cut-off was failed: %+v", r2)
	}
	if d, _ := s.Session(ctx, "d1"); d.Status != "in-sync" {
		t.Errorf("a finished session changed: %+v", d)
	}
}
