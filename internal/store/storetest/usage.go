package storetest

import (
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// testUsage: finished connections add up per role, per user and for the
// fleet, day by day, with each user's last use of each role; a dump
// carries them.
func testUsage(t *testing.T, s store.Store) {
	must(t, s.UpsertResources(ctx, []spec.Resource{resource("a", "h")}, "local"))
	today := store.Day(time.Now())
	conn := func(sid, role, user string, daysAgo int, u store.Usage) store.ConnectionUsage {
		opened := today.Add(-time.Duration(daysAgo)*24*time.Hour + 10*time.Hour)
		sess := store.Session{SID: sid, Kind: store.KindConnect, Resource: "a", Role: role, Actor: user, CreatedAt: opened, Status: "running"}
		must(t, s.CreateSessions(ctx, sess))
		sess.Status, sess.FinishedAt, sess.Output = "ok", opened.Add(time.Duration(u.Seconds)*time.Second), "duration: …"
		return store.ConnectionUsage{Session: sess, Usage: u}
	}
	must(t, s.FinishConnections(ctx,
		conn("c1", "ro", "ann", 40, store.Usage{Connections: 1, Seconds: 60, BytesIn: 100, BytesOut: 1000, Statements: 3}),
		conn("c2", "ro", "bob", 1, store.Usage{Connections: 1, Seconds: 30, BytesIn: 10, BytesOut: 20, Statements: 1}),
	))
	must(t, s.FinishConnections(ctx, conn("c3", "rw", "ann", 0, store.Usage{Connections: 1, Seconds: 5, Statements: 2})))
	// The same day again adds up; a connection older than the series
	// counts in the totals only.
	must(t, s.FinishConnections(ctx,
		conn("c4", "ro", "bob", 1, store.Usage{Connections: 1, Seconds: 10, Statements: 4}),
		conn("c5", "ro", "ann", 200, store.Usage{Connections: 1, Seconds: 1}),
	))
	if c, _ := s.Session(ctx, "c4"); c.Status != "ok" || c.ChainSeq == 0 {
		t.Errorf("a finished connection's session: %+v", c)
	}
	roles, err := s.UsageRecords(ctx, store.UsageRole, "")
	must(t, err)
	if len(roles) != 2 || roles[0].Name != "ro" || roles[1].Name != "rw" {
		t.Fatalf("role records = %+v", roles)
	}
	ro := roles[0]
	if ro.Total != (store.Usage{Connections: 4, Seconds: 101, BytesIn: 110, BytesOut: 1020, Statements: 8}) {
		t.Errorf("ro's total = %+v", ro.Total)
	}
	if want := today.Add(-24*time.Hour + 10*time.Hour + 30*time.Second); !ro.LastUsed.Equal(want) {
		t.Errorf("ro last used %v, want %v (bob's connection a day ago, the latest to end)", ro.LastUsed, want)
	}
	if got := ro.Series.Total(today, 30); got != (store.Usage{Connections: 2, Seconds: 40, BytesIn: 10, BytesOut: 20, Statements: 5}) {
		t.Errorf("ro's last 30 days = %+v", got)
	}
	if got := ro.Series.Total(today, 90); got.Connections != 3 {
		t.Errorf("ro's last 90 days = %+v, want 3 connections (not the one 200 days ago)", got)
	}
	if w := ro.Series.At(today).Window(2); w[0].Connections != 2 || w[1].Connections != 0 {
		t.Errorf("ro's last two days = %+v, want 2 yesterday, none today", w)
	}
	fleet, err := s.UsageRecords(ctx, store.UsageFleet, "")
	must(t, err)
	if len(fleet) != 1 || fleet[0].Total.Connections != 5 || fleet[0].Series.Total(today, 1).Connections != 1 {
		t.Errorf("fleet = %+v", fleet)
	}
	ann, err := s.UsageRecords(ctx, store.UsageUser, "ann")
	must(t, err)
	if len(ann) != 1 || ann[0].Total.Connections != 3 {
		t.Errorf("ann = %+v", ann)
	}
	last, err := s.LastUses(ctx, store.LastUseFilter{Roles: []string{"ro"}})
	must(t, err)
	if len(last) != 2 || last[0].User != "ann" || last[0].Connections != 2 || last[1].User != "bob" || last[1].Connections != 2 {
		t.Fatalf("last uses of ro = %+v", last)
	}
	if want := today.Add(-40*24*time.Hour + 10*time.Hour + time.Minute); !last[0].LastUsed.Equal(want) {
		t.Errorf("ann last used ro %v, want %v (not the older connection)", last[0].LastUsed, want)
	}
	// AddUsage counts without touching sessions.
	must(t, s.AddUsage(ctx, store.ConnectionUsage{Session: store.Session{SID: "old", Role: "ro", Actor: "cy", CreatedAt: today, FinishedAt: today.Add(time.Minute)}, Usage: store.Usage{Connections: 1}}))
	if l, _ := s.LastUses(ctx, store.LastUseFilter{User: "cy"}); len(l) != 1 || l[0].Role != "ro" {
		t.Errorf("last uses of cy = %+v", l)
	}
	if l, _ := s.LastUses(ctx, store.LastUseFilter{Since: today.Add(-2 * 24 * time.Hour)}); len(l) != 3 {
		t.Errorf("last uses in the last two days = %+v, want bob's of ro, ann's of rw, cy's of ro", l)
	}
	if l, _ := s.LastUses(ctx, store.LastUseFilter{Roles: []string{"rw", "nope"}}); len(l) != 1 || l[0].User != "ann" {
		t.Errorf("last uses of rw = %+v", l)
	}
	if d, ok := s.(store.Dumper); ok {
		dump, err := d.Dump(ctx)
		must(t, err)
		if len(dump.Usage) != 6 || len(dump.LastUses) != 4 {
			t.Errorf("dump has %d usage records and %d last uses, want 6 and 4", len(dump.Usage), len(dump.LastUses))
		}
	}
}

// testAddresses: the addresses a token was used from.
func testAddresses(t *testing.T, s store.Store) {
	for _, tt := range []struct {
		token, addr string
		isNew       bool
		others      int
	}{
		{"admin", "10.0.0.1", true, 0}, {"admin", "10.0.0.1", false, 0}, {"admin", "10.0.0.2", true, 1},
		{"k1", "10.0.0.2", true, 0}, {"admin", "10.0.0.1", false, 1},
	} {
		isNew, others, err := s.SeeAddress(ctx, tt.token, tt.addr, time.Now())
		must(t, err)
		if isNew != tt.isNew || others != tt.others {
			t.Errorf("SeeAddress(%s, %s) = %v, %d; want %v, %d", tt.token, tt.addr, isNew, others, tt.isNew, tt.others)
		}
	}
}
