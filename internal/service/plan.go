package service

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/par"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// PlanOutcome is api.PlanOutcome (the wire type), kept here for the server side.
type PlanOutcome = api.PlanOutcome

// item is a validated plan item with what planning it needs.
type item struct {
	role  spec.Role
	input plan.Input
	res   store.Resource
}

// Plan validates every item first (unknown resource, missing admin, bad
// type or privilege, duplicate or conflicting labels, labels that slug like
// an existing role's) and plans none if any is invalid. Items are then
// grouped by resource: each resource's catalog is read once for all its
// items. Every item gets a plan session.
func (s *Provisioning) Plan(ctx context.Context, p Principal, items []spec.Role) ([]PlanOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.PlanEach(ctx, p, items, nil)
}

// PlanEach is Plan calling progress (when set, never concurrently) with the
// index and outcome of each item as its resource's plan lands. Resources are
// planned in parallel, up to Config.ApplyParallel at once.
func (s *Provisioning) PlanEach(ctx context.Context, p Principal, items []spec.Role, progress func(int, PlanOutcome)) ([]PlanOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	roles, err := spec.ValidateBatch(items)
	if err != nil {
		return nil, err
	}
	resources, err := s.resourceMap(ctx)
	if err != nil {
		return nil, err
	}
	strict, err := s.store.StrictColumns(ctx)
	if err != nil {
		return nil, err
	}
	var problems []string
	prepared := make([]item, len(roles))
	// The roles each resource keeps, by label and by the key its label
	// slugs to: read once per resource, and each item looked up, not
	// compared with every role (the slugging was a fifth of a re-plan).
	type kept struct {
		byLabel map[string]store.Role
		byKey   map[string]string
	}
	existing := map[string]kept{}
	named := map[string]spec.Role{} // role_name → the item that gives it
	for i, r := range roles {
		res, ok := resources[r.Resource]
		if !ok {
			problems = append(problems, fmt.Sprintf("item %d: resource %q is not in the inventory", i+1, r.Resource))
			continue
		}
		if res.AdminUser == "" {
			problems = append(problems, fmt.Sprintf("item %d: resource %q has no admin credentials (set them with: stile resources admin set %s --user USER --password-stdin)", i+1, r.Resource, r.Resource))
			continue
		}
		name, err := r.PGName(s.prefix)
		if err != nil {
			problems = append(problems, fmt.Sprintf("item %d: %v", i+1, err))
			continue
		}
		if problem, err := s.nameTaken(ctx, r, name, named); err != nil {
			return nil, err
		} else if problem != "" {
			problems = append(problems, fmt.Sprintf("item %d: %s", i+1, problem))
			continue
		}
		k, ok := existing[r.Resource]
		if !ok {
			list, err := s.store.Roles(ctx, r.Resource)
			if err != nil {
				return nil, err
			}
			k = kept{byLabel: map[string]store.Role{}, byKey: map[string]string{}}
			for _, old := range list {
				k.byLabel[old.Label] = old
				key := spec.LabelKey(old.Label)
				// The first label in the store's order, as the loop over
				// them reported it.
				if _, taken := k.byKey[key]; !taken {
					k.byKey[key] = old.Label
				}
			}
			existing[r.Resource] = k
		}
		if other, ok := k.byKey[spec.LabelKey(r.Label)]; ok && other != r.Label {
			problems = append(problems, fmt.Sprintf("item %d: label %q slugs like existing role %q of %s; use that label or another", i+1, r.Label, other, r.Resource))
		}
		old := k.byLabel[r.Label]
		if old.Declared && old.RoleName != name {
			// The role stile manages would be left behind, unmanaged.
			problems = append(problems, fmt.Sprintf("item %d: %s/%s is role %q, not %q: a declared role's name does not change (retire it, then declare the other)", i+1, r.Resource, r.Label, old.RoleName, name))
			continue
		}
		in, err := plan.NewInput(r, name)
		if err != nil {
			problems = append(problems, fmt.Sprintf("item %d: %v", i+1, err))
			continue
		}
		in.Host, in.Port, in.AdminUser, in.HasPassword, in.Strict = res.Host, res.Port, res.AdminUser, old.PasswordCurrent != "", strict[name]
		in.Kept = old.Declared && old.RoleName == name
		prepared[i] = item{role: r, res: res, input: in}
	}
	if len(problems) == 0 {
		stored := map[string][]store.Role{}
		for r, k := range existing {
			for _, label := range slices.Sorted(maps.Keys(k.byLabel)) {
				stored[r] = append(stored[r], k.byLabel[label])
			}
		}
		problems = resolveGroups(prepared, stored)
	}
	if len(problems) > 0 {
		return nil, errs.Invalidf("%s", strings.Join(problems, "; "))
	}
	declareCreators(prepared)

	out := make([]PlanOutcome, len(prepared))
	var order []string
	groups := map[string][]int{}
	for i, it := range prepared {
		if _, ok := groups[it.res.Name]; !ok {
			order = append(order, it.res.Name)
		}
		groups[it.res.Name] = append(groups[it.res.Name], i)
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	sem := make(chan struct{}, s.applyParallel)
	for _, name := range order {
		idx := groups[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := s.planResource(ctx, p.User, prepared, idx, out)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmp.Or(first, err)
				return
			}
			if progress != nil {
				for _, i := range idx {
					progress(i, out[i])
				}
			}
		}()
	}
	wg.Wait()
	return out, first
}

// planInput is what a plan session records as its input: the declared
// role and, when the batch had them, the creators declared with it, which
// the apply's re-plan must count as the plan did.
type planInput struct {
	spec.Role
	Creators []plan.DeclaredCreator `json:"declared_creators,omitempty"`
}

// declareCreators lets the items of one cluster (one ClusterKey, as for
// the apply lock, whatever the resource) count the roles declared with CREATE among them as
// creators up front (plan.DeclareCreators).
func declareCreators(items []item) {
	byCluster := map[string][]int{}
	var order []string
	for i, it := range items {
		k := target.Target{Host: it.input.Host, Port: it.input.Port}.ClusterKey()
		if _, ok := byCluster[k]; !ok {
			order = append(order, k)
		}
		byCluster[k] = append(byCluster[k], i)
	}
	for _, k := range order {
		idx := byCluster[k]
		inputs := make([]plan.Input, len(idx))
		for j, i := range idx {
			inputs[j] = items[i].input
		}
		plan.DeclareCreators(inputs)
		for j, i := range idx {
			items[i].input = inputs[j]
		}
	}
}

// planResource plans the items idx of one resource against one catalog read.
func (s *Provisioning) planResource(ctx context.Context, actor string, items []item, idx []int, out []PlanOutcome) error {
	res := items[idx[0]].res
	sessions := make([]store.Session, len(idx))
	inputs := make([]plan.Input, len(idx))
	for k, i := range idx {
		in, _ := json.Marshal(planInput{Role: items[i].role, Creators: items[i].input.Creators})
		sessions[k] = store.Session{
			SID: newSID(), Kind: store.KindPlan, Resource: res.Name, Role: items[i].input.RoleName, Label: items[i].role.Label,
			Actor: actor, Agent: res.Agent, CreatedAt: s.now(), Replica: s.replica, Status: "running", Input: string(in),
		}
		inputs[k] = items[i].input
	}
	// A batch's sessions are written in one transaction, and finished in
	// one: per item, a transaction each was most of a re-plan's store time.
	if err := s.store.CreateSessions(ctx, sessions...); err != nil {
		return err
	}
	var results []plan.Result
	t, err := s.target(res)
	if err == nil {
		ag, aerr := s.agent(res.Agent)
		if aerr != nil {
			err = aerr
		} else {
			jctx, cancel := context.WithTimeout(ctx, s.planTimeout)
			start := time.Now()
			results, err = ag.Plan(jctx, t, inputs)
			s.metrics.Plan(time.Since(start))
			cancel()
		}
	}
	done := make([]store.PlanFinish, len(idx))
	failed := errs.Public(s.log, err, "resource", res.Name)
	// Each item's document is encoded once, as JSON, one item per core;
	// its YAML, the session's output, is rendered when the session is
	// read (withOutput): encoding both was a tenth of a re-plan's CPU.
	par.Each(len(idx), func(k int) {
		i := idx[k]
		sess := sessions[k]
		sess.FinishedAt = s.now()
		o := PlanOutcome{SID: sess.SID, Resource: res.Name, Label: items[i].role.Label, RoleName: items[i].input.RoleName, Retire: items[i].role.Retire}
		if err != nil {
			o.Status, o.Message = plan.ItemFailed, failed
			sess.Output = "error: " + failed + "\n"
		} else {
			r := results[k]
			strictLost := !slices.Equal(r.Document.Config.StrictColumns, inputs[k].Strict)
			// An older planner makes a group a LOGIN role with a password.
			groupsLost := !slices.Equal(r.Document.Config.MemberOf, inputs[k].MemberOf) || r.Document.Config.Adopt != inputs[k].Role.Adopt ||
				(inputs[k].Role.Type == spec.Group && r.NeedsPassword)
			if r.Status != plan.ItemFailed && (strictLost || groupsLost) {
				// An agent older than strict rules, groups or adoption
				// plans as if there were none.
				what := "strict column rules"
				if groupsLost {
					what = "groups or adoption"
				}
				r.Status, r.Message = plan.ItemFailed, "the plan leaves out the role's "+what+": is agent "+res.Agent+" older than the server? upgrade it"
				r.Document.SQLPlan = plan.RenderFailed([]string{r.Message}, nil)
				r.Document.Blocks = nil
			}
			if r.Document.Blocks == nil && r.Status != plan.ItemFailed {
				// An agent older than documents with blocks sends them
				// beside the document only.
				r.Document.Blocks = r.Blocks
			}
			doc := r.Document
			doc.SID = sess.SID
			o.Status, o.Message, o.Document, o.Requires = r.Status, r.Message, &doc, doc.Requires
			if r.Status == plan.ItemFailed {
				doc.CommandOutput = "error: " + r.Message
			}
			data, _ := json.Marshal(doc)
			sess.Document, sess.Checksum = string(data), doc.Checksum
		}
		sess.Status, sess.Message = o.Status, o.Message
		if o.Status == plan.ItemFailed {
			sess.ExitCode = 1
		}
		done[k] = store.PlanFinish{Session: sess}
		if !items[i].role.Retire {
			// A retirement leaves the declared role as it is until applied.
			done[k].Role = &store.Role{Resource: res.Name, Label: items[i].role.Label, RoleName: items[i].input.RoleName, Spec: items[i].role}
		}
		out[i] = o
	})
	if err := s.store.FinishPlans(context.WithoutCancel(ctx), done...); err != nil {
		return err
	}
	for _, d := range done {
		s.emit(d.Session)
	}
	return nil
}

// PlanStatus returns a plan session's document.
func (s *Provisioning) PlanStatus(ctx context.Context, p Principal, sid string) (store.Session, *plan.Document, error) {
	if err := p.MayAdminister(); err != nil {
		return store.Session{}, nil, err
	}
	sess, err := s.store.Session(ctx, sid)
	if err != nil {
		return sess, nil, err
	}
	if sess.Kind != store.KindPlan {
		return sess, nil, errs.Invalidf("session %s is not a plan but %s %s session", sid, store.Article(sess.Kind), sess.Kind)
	}
	if sess.Document == "" {
		return sess, nil, nil
	}
	var doc plan.Document
	if err := json.Unmarshal([]byte(sess.Document), &doc); err != nil {
		return sess, nil, fmt.Errorf("plan %s: decode document: %w", sid, err)
	}
	return sess, &doc, nil
}

// Roles lists the roles stile keeps for a resource (secrets stay sealed in
// fields no client encoding includes).
func (s *Provisioning) Roles(ctx context.Context, p Principal, resource string) ([]store.Role, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.store.Roles(ctx, resource)
}

// Replan plans every stored role of a resource again: the drift check.
func (s *Provisioning) Replan(ctx context.Context, p Principal, resource string) ([]PlanOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	out, err := s.PlanDeclared(ctx, p, []string{resource}, nil)
	if err == nil && len(out) == 0 {
		return nil, errs.Invalidf("resource %q has no roles to plan", resource)
	}
	return out, err
}

// PlanDeclared plans the declaration of every role stile keeps, of the named
// resources or of all: the fleet's drift check. A role's declaration is the
// spec of its last successful apply (or, never applied, of its latest
// plan). An unknown resource is errs.NotFound; none declared is no results.
func (s *Provisioning) PlanDeclared(ctx context.Context, p Principal, resources []string, progress func(int, PlanOutcome)) ([]PlanOutcome, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	return s.planKept(ctx, p, resources, false, progress)
}

// planKept plans the roles stile keeps of resources (all when empty): with
// applied, only those with a successful apply (their declaration), else
// also those never applied (their latest plan).
func (s *Provisioning) planKept(ctx context.Context, p Principal, resources []string, applied bool, progress func(int, PlanOutcome)) ([]PlanOutcome, error) {
	var roles []store.Role
	if len(resources) == 0 {
		all, err := s.store.Roles(ctx, "")
		if err != nil {
			return nil, err
		}
		roles = all
	}
	for _, name := range resources {
		if _, err := s.store.Resource(ctx, name); err != nil {
			return nil, err
		}
		some, err := s.store.Roles(ctx, name)
		if err != nil {
			return nil, err
		}
		roles = append(roles, some...)
	}
	if applied {
		roles = slices.DeleteFunc(roles, func(r store.Role) bool { return !r.Declared })
	}
	if len(roles) == 0 {
		return []PlanOutcome{}, nil
	}
	items := make([]spec.Role, len(roles))
	for i, r := range roles {
		items[i] = r.Spec
		items[i].RotatePassword = false
	}
	return s.PlanEach(ctx, p, items, progress)
}

// Scopes lists the live databases and schemas of a resource, through its
// agent, for the role wizard.
func (s *Provisioning) Scopes(ctx context.Context, p Principal, resource string) ([]inspect.ScopeDatabase, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	t, ag, err := s.resourceAgent(ctx, resource)
	if err != nil {
		return nil, err
	}
	return ag.Scopes(ctx, t)
}
