package service

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/store"
)

// DriftActor is who the scheduled drift check acts as in sessions.
const DriftActor = "drift-check"

// DriftEvery re-plans the declared roles of every resource once per
// interval until ctx ends, each resource at its own moment of the interval
// (from a hash of its name), so that a fleet's clusters are not all read at
// once. With replicas on one store, one replica checks a resource in an
// interval: it holds the store lease drift:RESOURCE for most of it.
//
// A check is also a masking check of each role with masking rules
// (CheckMasking), whose raw values are alerts.
//
// A check is a plan of each declared role: of the spec of its last
// successful apply (a role never applied, or whose applies all failed, has
// none and is not checked). A role it finds out of sync that was not known
// to be is a drift session, exported and counted like any other; a drift
// check never applies anything.
func (s *Provisioning) DriftEvery(ctx context.Context, interval time.Duration) {
	start := s.now()
	next := map[string]time.Time{}
	step := min(max(interval/20, 20*time.Millisecond), 10*time.Second)
	every(ctx, step, func() {
		resources, err := s.store.Resources(ctx)
		if err != nil {
			s.log.Warn("drift check: list resources", "err", err)
			return
		}
		now := s.now()
		for _, r := range resources {
			if r.AdminUser == "" {
				continue
			}
			due, seen := next[r.Name]
			if !seen {
				due = start.Add(offset(r.Name, interval))
			}
			if now.Before(due) {
				next[r.Name] = due
				continue
			}
			next[r.Name] = due.Add(interval)
			if next[r.Name].Before(now) {
				next[r.Name] = now.Add(interval)
			}
			held, err := s.store.TryLease(ctx, "drift:"+r.Name, s.replica, now.Add(interval*9/10))
			if err != nil {
				s.log.Warn("drift check: lease", "resource", r.Name, "err", err)
				continue
			}
			if held {
				s.checkDrift(ctx, r.Name)
			}
		}
	})
}

// offset is where in the interval a resource's check falls.
func offset(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(max(interval, 1)))
}

// checkDrift plans resource's declared roles and records a drift session
// for each found out of sync that was not known to be.
func (s *Provisioning) checkDrift(ctx context.Context, resource string) {
	before := map[string]string{}
	roles, err := s.store.Roles(ctx, resource)
	if err != nil {
		s.log.Warn("drift check: roles", "resource", resource, "err", err)
		return
	}
	for _, r := range roles {
		before[r.Label] = r.Status
	}
	out, err := s.planKept(ctx, system(DriftActor), []string{resource}, true, nil)
	if err != nil {
		s.log.Warn("drift check: plan", "resource", resource, "err", err)
		return
	}
	for _, o := range out {
		if o.Status != plan.ItemOutOfSync || before[o.Label] == plan.ItemOutOfSync || o.Document == nil {
			continue
		}
		now := s.now()
		sess := store.Session{
			SID: newSID(), Kind: store.KindDrift, Resource: resource, Role: o.RoleName, Label: o.Label, Actor: DriftActor,
			CreatedAt: now, FinishedAt: now, Status: "drift", ExitCode: 2, PlanSID: o.SID, Replica: s.replica,
			Message: driftSummary(o.RoleName, o.Document), Output: o.Document.SQLPlan,
			Input: fmt.Sprintf(`{"plan_sid":%q}`, o.SID),
		}
		if err := s.store.CreateSessions(ctx, sess); err != nil {
			s.log.Warn("drift check: record", "resource", resource, "err", err)
			continue
		}
		s.emit(sess)
	}
	// The masking check of each of the resource's roles with masking
	// rules: a path that returns a raw value is an alert.
	for _, r := range roles {
		if r.PasswordCurrent == "" || r.RoleName == "" {
			continue
		}
		rules, err := s.store.MaskRules(ctx, r.RoleName)
		if err != nil || len(rules) == 0 {
			continue
		}
		if _, err := s.masking.CheckMasking(ctx, system(DriftActor), r.RoleName); err != nil {
			s.log.Warn("drift check: masking check", "role", r.RoleName, "err", err)
		}
	}
}

// driftSummary says what changed in words a person reads in an alert: the
// statements of doc's steps that would repair it (the first three).
func driftSummary(role string, doc *plan.Document) string {
	var stmts []string
	for _, b := range doc.Blocks {
		stmts = append(stmts, plan.SQL(b.Steps)...)
	}
	msg := fmt.Sprintf("%s differs from its declaration; %d statement(s) would repair it", role, len(stmts))
	if len(stmts) > 3 {
		stmts = append(stmts[:3], "…")
	}
	if len(stmts) > 0 {
		msg += ": " + strings.Join(stmts, "; ")
	}
	return msg
}
