package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/apply"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// ApplyOutcome is api.ApplyOutcome (the wire type), kept here for the server side.
type ApplyOutcome = api.ApplyOutcome

// ApplyItem is api.ApplyItem (the wire type), kept here for the server side.
type ApplyItem = api.ApplyItem

// ItemOutcome is one item of a batch apply as it lands: its index in the
// request, what the apply did, and Err when it did not apply (errs.Drift,
// errs.Failed, errs.Conflict, errs.NotFound…). Skipped (already in sync)
// is not an error.
type ItemOutcome struct {
	Index int
	ApplyOutcome
	Err error
}

// DefaultApplyParallel is how many clusters a batch apply works on at once
// unless Config.ApplyParallel says otherwise.
const DefaultApplyParallel = 4

// Apply applies plan planSID of resource: ApplyBatch with one item. It
// returns the item's error (errs.Drift when the cluster changed since the
// plan, errs.Failed when a block failed) with what is known of the apply.
func (s *Provisioning) Apply(ctx context.Context, p Principal, resource, planSID string) (ApplyOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return ApplyOutcome{}, err
	}
	var out ItemOutcome
	s.ApplyBatch(ctx, p, []ApplyItem{{Resource: resource, PlanSID: planSID}}, func(o ItemOutcome) { out = o })
	if out.Status == StatusAlreadyApplied {
		// One sid asked for once more: that is a mistake to say so.
		return out.ApplyOutcome, errs.New(errs.Conflict, "plan %s was already applied by %s", planSID, out.SID)
	}
	return out.ApplyOutcome, out.Err
}

// StatusAlreadyApplied is a batch item whose plan an earlier apply carried
// out (applied, or found in sync): applying a results file again is not an
// error.
const StatusAlreadyApplied = "already-applied"

// ApplyBatch applies reviewed plans, calling emit (never concurrently) with
// each item's outcome as it lands, and returns when every item has one.
//
// Each item is checked on its own: the plan must have succeeded and not been
// applied (errs.Conflict otherwise), and it becomes one apply session. The
// items are then grouped by cluster (resources may share a host:port) and
// each cluster's group is sent to its agent as one job (apply.RunBatch): one
// hold of the cluster's advisory lock, one catalog read, and per item a
// re-plan that skips when in sync, refuses on drift (that item only) and
// otherwise runs and verifies its blocks. Up to Config.ApplyParallel
// clusters run at once. A password a plan sets is stored as pending before
// any SQL runs and promoted only once its COMMIT is known to have happened.
//
// Once an item is claimed it runs to its end whatever happens to the client
// that asked (a half-run apply helps nobody): ctx's cancellation stops
// nothing, only the apply timeout bounds each cluster's job.
func (s *Provisioning) ApplyBatch(ctx context.Context, p Principal, items []ApplyItem, emit func(ItemOutcome)) {
	if err := p.MayAdminister(); err != nil {
		for i, it := range items {
			emit(ItemOutcome{Index: i, ApplyOutcome: ApplyOutcome{PlanSID: it.PlanSID, Resource: it.Resource}, Err: err})
		}
		return
	}
	ctx = context.WithoutCancel(ctx)
	var mu sync.Mutex
	send := func(o ItemOutcome) {
		mu.Lock()
		defer mu.Unlock()
		emit(o)
	}
	// Each plan is read once: its role tells which required roles are in
	// the batch, and its session whether it was carried out before.
	plans := make([]planLookup, len(items))
	inBatch := map[string]bool{}
	for i, it := range items {
		pl := &plans[i]
		pl.sess, pl.doc, pl.err = s.PlanStatus(ctx, p, it.PlanSID)
		if pl.err == nil {
			inBatch[pl.sess.Role] = true
		}
	}
	groups := map[string][]*applyItem{}
	var keys []string
	for i, it := range items {
		if done, ok := s.appliedBefore(ctx, it, plans[i]); ok {
			send(ItemOutcome{Index: i, ApplyOutcome: done})
			continue
		}
		a, err := s.claimApply(ctx, p.User, i, it, plans[i], inBatch)
		if err != nil {
			send(ItemOutcome{Index: i, ApplyOutcome: ApplyOutcome{PlanSID: it.PlanSID, Resource: it.Resource}, Err: err})
			continue
		}
		key := a.res.Agent + " " + a.job.Target.ClusterKey()
		if groups[key] == nil {
			keys = append(keys, key)
		}
		groups[key] = append(groups[key], a)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.applyParallel)
	for _, key := range keys {
		group := groups[key]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			s.applyCluster(ctx, group, send)
		}()
	}
	wg.Wait()
}

// planLookup is an item's plan as PlanStatus read it.
type planLookup struct {
	sess store.Session
	doc  *plan.Document
	err  error
}

// appliedBefore reports an item whose plan an earlier apply carried out:
// its session applied the plan or found the cluster in sync.
func (s *Provisioning) appliedBefore(ctx context.Context, it ApplyItem, p planLookup) (ApplyOutcome, bool) {
	if p.err != nil || p.sess.AppliedBy == "" || p.sess.Resource != it.Resource {
		return ApplyOutcome{}, false
	}
	done, err := s.store.Session(ctx, p.sess.AppliedBy)
	if err != nil || (done.Status != string(apply.Applied) && done.Status != string(apply.Skipped)) {
		return ApplyOutcome{}, false
	}
	return ApplyOutcome{
		SID: done.SID, PlanSID: it.PlanSID, Resource: it.Resource, RoleName: done.Role, Status: StatusAlreadyApplied,
		Message: fmt.Sprintf("already applied by session %s (%s) at %s", done.SID, done.Status, done.FinishedAt.Format(time.RFC3339)),
	}, true
}

// applyItem is one claimed item of a batch.
type applyItem struct {
	index    int
	res      store.Resource
	role     spec.Role
	planSess store.Session
	sess     store.Session
	agent    agent.Agent
	job      apply.Job
	// password is the pending password the plan sets, if it sets one.
	password string
}

// claimApply checks one item, waits for the roles it requires that are
// not in the batch, and claims its plan: from here on it has a running
// apply session, and a pending password when the plan sets one.
func (s *Provisioning) claimApply(ctx context.Context, actor string, index int, it ApplyItem, p planLookup, inBatch map[string]bool) (*applyItem, error) {
	planSess, doc := p.sess, p.doc
	if p.err != nil {
		return nil, p.err
	}
	if planSess.Resource != it.Resource {
		return nil, errs.Invalidf("plan %s is for resource %q, not %q", it.PlanSID, planSess.Resource, it.Resource)
	}
	if doc == nil || (planSess.Status != plan.ItemOutOfSync && planSess.Status != plan.ItemInSync) {
		return nil, errs.New(errs.Conflict, "plan %s did not succeed (%s): %s", it.PlanSID, planSess.Status, planSess.Message)
	}
	var pin planInput
	if err := json.Unmarshal([]byte(planSess.Input), &pin); err != nil {
		return nil, fmt.Errorf("plan %s: decode input: %w", it.PlanSID, err)
	}
	var elsewhere []string
	for _, name := range doc.Requires {
		if !inBatch[name] {
			elsewhere = append(elsewhere, name)
		}
	}
	if err := s.awaitRequired(ctx, it.PlanSID, elsewhere); err != nil {
		return nil, err
	}
	res, err := s.store.Resource(ctx, it.Resource)
	if err != nil {
		return nil, err
	}
	stored, err := s.store.Role(ctx, it.Resource, pin.Role.Label)
	if err != nil {
		return nil, err
	}
	t, err := s.target(res)
	if err != nil {
		return nil, err
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return nil, err
	}
	in, err := plan.NewInput(pin.Role, planSess.Role)
	if err != nil {
		return nil, err
	}
	in.Host, in.Port, in.AdminUser = res.Host, res.Port, res.AdminUser
	in.HasPassword, in.Creators, in.Strict = stored.PasswordCurrent != "", pin.Creators, doc.Config.StrictColumns
	// The groups as the plan resolved them (its checksum covers them), and
	// whether stile manages the role now.
	in.MemberOf, in.Kept = doc.Config.MemberOf, stored.Declared && stored.RoleName == planSess.Role
	strict, err := s.store.StrictColumns(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(strict[planSess.Role], in.Strict) {
		return nil, errs.New(errs.Conflict, "the strict masking rules of %s changed since plan %s: plan again", planSess.Role, it.PlanSID)
	}
	a := &applyItem{
		index: index, res: res, role: pin.Role, planSess: planSess, agent: ag,
		job: apply.Job{Target: t, Checksum: doc.Checksum, State: doc.CurrentState, Input: in},
		sess: store.Session{
			SID: newSID(), Kind: store.KindApply, Resource: it.Resource, Role: planSess.Role, Label: pin.Role.Label,
			Actor: actor, Agent: res.Agent, CreatedAt: s.now(), Replica: s.replica, Status: "running", PlanSID: it.PlanSID,
			Input: fmt.Sprintf(`{"plan_sid":%q}`, it.PlanSID),
		},
	}
	if err := s.store.ClaimPlan(ctx, it.PlanSID, a.sess); err != nil {
		return nil, err
	}
	if strings.Contains(doc.SQLPlan, plan.PasswordPlaceholder) {
		a.password = secret.NewPassword()
		if err := s.store.SetPendingPassword(ctx, res.Name, pin.Role.Label, s.box.Seal(a.password, passwordAD(res.Name, pin.Role.Label))); err != nil {
			err = fmt.Errorf("store pending password: %w", err)
			s.finishApply(ctx, a, apply.Report{Outcome: apply.Failed, Message: errs.Public(s.log, err, "resource", res.Name)})
			return nil, err
		}
		a.job.Verifier = secret.ScramVerifier(a.password)
	}
	return a, nil
}

// applyCluster runs one cluster's items as one agent job, in the order the
// batch planned them (roles with CREATE first), and finishes each item as
// its report arrives.
func (s *Provisioning) applyCluster(ctx context.Context, group []*applyItem, send func(ItemOutcome)) {
	inputs := make([]plan.Input, len(group))
	for i, a := range group {
		inputs[i] = a.job.Input
	}
	order := plan.ApplyOrder(inputs)
	jobs := make([]apply.Job, len(order))
	for i, k := range order {
		jobs[i] = group[k].job
	}
	jctx, cancel := context.WithTimeout(ctx, s.applyTimeout)
	defer cancel()
	group[0].agent.ApplyBatch(jctx, jobs, func(i int, rep apply.Report) {
		a := group[order[i]]
		out, err := s.finishApply(ctx, a, rep)
		send(ItemOutcome{Index: a.index, ApplyOutcome: out, Err: err})
	})
}

// finishApply settles an item's password, finishes its session (and, when
// it applied or was in sync, makes its spec the role's declaration) and
// exports it.
func (s *Provisioning) finishApply(ctx context.Context, a *applyItem, rep apply.Report) (ApplyOutcome, error) {
	action := store.DropPending
	switch rep.Password {
	case apply.PasswordSet:
		action = store.PromotePending
	case apply.PasswordUnknown:
		if a.password != "" {
			action = s.decidePassword(ctx, a.res, a.planSess.Role, a.password)
		}
	}
	s.metrics.Apply(string(rep.Outcome), rep.Seconds)
	sess := a.sess
	sess.Status, sess.Message, sess.Output, sess.FinishedAt = string(rep.Outcome), rep.Message, rep.Output, s.now()
	if rep.Outcome != apply.Applied && rep.Outcome != apply.Skipped {
		sess.ExitCode = 1
	}
	out := ApplyOutcome{SID: sess.SID, PlanSID: a.planSess.SID, Resource: a.res.Name, RoleName: a.planSess.Role}
	applied := store.Role{Resource: a.res.Name, Label: a.role.Label, Spec: a.role}
	if err := s.store.FinishApply(ctx, sess, applied, action); err != nil {
		return out, err
	}
	s.emit(sess)
	if a.role.Retire && (rep.Outcome == apply.Applied || rep.Outcome == apply.Skipped) {
		// The role is gone: so is its resource role.
		if err := s.store.DeleteRole(ctx, a.res.Name, a.role.Label); err != nil {
			return out, err
		}
	}
	out.Status, out.Message, out.Committed, out.Output, out.Seconds = sess.Status, rep.Message, rep.Committed, rep.Output, rep.Seconds
	switch rep.Outcome {
	case apply.Drifted:
		return out, errs.New(errs.Drift, "%s", rep.Message)
	case apply.Failed:
		return out, errs.New(errs.Failed, "%s", rep.Message)
	}
	return out, nil
}

// awaitRequired waits for the roles a plan requires (declared creators of
// its batch that did not exist at plan time): for their apply to start, a
// moment, as when a browser applies a batch's rows at once, and then for as
// long as it runs. It refuses, leaving the plan unapplied, when one of them
// is not applied.
func (s *Provisioning) awaitRequired(ctx context.Context, planSID string, required []string) error {
	const grace = 3 * time.Second
	start := time.Now()
	for _, name := range required {
		for {
			r, err := s.store.RoleByName(ctx, name)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
			if err == nil && r.LastApplySID != "" && (r.Status == string(apply.Applied) || r.Status == string(apply.Skipped)) {
				break
			}
			running, err := s.store.Sessions(ctx, store.SessionFilter{Kind: store.KindApply, Status: "running"})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(running, func(x store.Session) bool { return x.Role == name }) && time.Since(start) > grace {
				return errs.New(errs.Conflict, "plan %s sets default privileges for %s, declared in the same batch with CREATE: apply that role's plan first (this plan stays unapplied)", planSID, name)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// decidePassword settles a password change whose COMMIT outcome is unknown
// by logging in with it.
func (s *Provisioning) decidePassword(ctx context.Context, res store.Resource, role, password string) store.PasswordAction {
	t, err := s.target(res)
	if err != nil {
		return store.KeepPending
	}
	ag, err := s.agent(res.Agent)
	if err != nil {
		return store.KeepPending
	}
	ok, err := ag.CheckLogin(ctx, t, role, password)
	switch {
	case err != nil:
		s.log.Warn("password outcome unknown; pending password kept", "resource", res.Name, "role", role, "err", err)
		return store.KeepPending
	case ok:
		return store.PromotePending
	}
	return store.DropPending
}
