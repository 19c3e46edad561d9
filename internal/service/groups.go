package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// nameTaken says why item r may not have the PostgreSQL name name: another
// item of the batch gives it, or another declaration stile keeps owns it.
// Role names are stile's key for a resource role (connect, approvals,
// guardrails), so a name given with role_name is unique across resources.
// named collects the names given so far.
func (s *Provisioning) nameTaken(ctx context.Context, r spec.Role, name string, named map[string]spec.Role) (string, error) {
	if prev, ok := named[name]; ok && (prev.Resource != r.Resource || prev.Label != r.Label) {
		return fmt.Sprintf("role_name %q is also given to %s/%s in this batch", name, prev.Resource, prev.Label), nil
	}
	named[name] = r
	if r.Name == "" {
		return "", nil
	}
	owner, err := s.store.RoleByName(ctx, name)
	switch {
	case errs.Is(err, errs.NotFound):
		return "", nil
	case err != nil:
		return "", err
	case owner.Resource != r.Resource || owner.Label != r.Label:
		return fmt.Sprintf("role %q is already declared by %s/%s", name, owner.Resource, owner.Label), nil
	}
	return "", nil
}

// resolveGroups turns each item's member_of labels into the PostgreSQL
// names of the groups they name on the item's resource: a group declared in
// the batch, or one stile keeps. stored are the roles stile keeps, by
// resource. It returns the problems, naming items by position.
func resolveGroups(items []item, stored map[string][]store.Role) []string {
	type group struct{ label, name string }
	groups := map[string]map[string]group{} // resource → label key → group
	add := func(resource string, r spec.Role, name string) {
		if groups[resource] == nil {
			groups[resource] = map[string]group{}
		}
		groups[resource][spec.LabelKey(r.Label)] = group{r.Label, name}
	}
	for res, roles := range stored {
		for _, r := range roles {
			if r.Spec.Type == spec.Group && !r.Spec.Retire {
				add(res, r.Spec, r.RoleName)
			}
		}
	}
	retired := map[string]bool{}
	for _, it := range items {
		switch {
		case it.role.Retire:
			retired[it.res.Name+"\x00"+spec.LabelKey(it.role.Label)] = true
		case it.role.Type == spec.Group:
			add(it.res.Name, it.role, it.input.RoleName)
		default:
			// A label the batch redeclares as something else is no group.
			delete(groups[it.res.Name], spec.LabelKey(it.role.Label))
		}
	}
	var problems []string
	redeclared := map[string]bool{}
	for _, it := range items {
		redeclared[it.res.Name+"\x00"+spec.LabelKey(it.role.Label)] = true
	}
	for i, it := range items {
		if !it.role.Retire || it.role.Type != spec.Group {
			continue
		}
		// A kept member whose declaration the batch leaves as it is would
		// name a group that no longer exists.
		for _, r := range stored[it.res.Name] {
			if redeclared[it.res.Name+"\x00"+spec.LabelKey(r.Label)] || !slices.ContainsFunc(r.Spec.MemberOf, func(g string) bool { return spec.LabelKey(g) == spec.LabelKey(it.role.Label) }) {
				continue
			}
			problems = append(problems, fmt.Sprintf("item %d: group %q still has member %s/%s: declare it without the group, or retire it, in the same batch", i+1, it.role.Label, r.Resource, r.Label))
		}
	}
	for i := range items {
		it := &items[i]
		if it.role.Retire {
			continue
		}
		names := make([]string, 0, len(it.role.MemberOf))
		for _, label := range it.role.MemberOf {
			key := spec.LabelKey(label)
			g, ok := groups[it.res.Name][key]
			switch {
			case retired[it.res.Name+"\x00"+key]:
				problems = append(problems, fmt.Sprintf("item %d: member_of %q names a group this batch retires", i+1, label))
			case !ok:
				problems = append(problems, fmt.Sprintf("item %d: member_of %q: no group of that label is declared on %s (declare it with type: group)", i+1, label, it.res.Name))
			default:
				names = append(names, g.name)
			}
		}
		slices.Sort(names)
		it.input.MemberOf = slices.Compact(names)
	}
	return problems
}

// WithPrunes returns items followed by the retirements `plan --prune`
// adds: every role stile manages (an apply of its declaration succeeded)
// on the resources items name that items no longer declare, in the store's
// order. Adopted roles are spared unless adopted is set: they were there
// before stile. Items are validated first (spec.ValidateBatch).
func (s *Provisioning) WithPrunes(ctx context.Context, p Principal, items []spec.Role, adopted bool) ([]spec.Role, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	items, err := spec.ValidateBatch(items)
	if err != nil {
		return nil, err
	}
	declared := map[string]bool{}
	var resources []string
	for _, r := range items {
		if !slices.Contains(resources, r.Resource) {
			resources = append(resources, r.Resource)
		}
		declared[r.Resource+"\x00"+spec.LabelKey(r.Label)] = true
	}
	out := items
	for _, res := range resources {
		kept, err := s.store.Roles(ctx, res)
		if err != nil {
			return nil, err
		}
		for _, r := range kept {
			if !r.Declared || declared[res+"\x00"+spec.LabelKey(r.Label)] || (r.Spec.Adopt && !adopted) {
				continue
			}
			item := r.Spec
			item.Retire, item.Heir, item.RotatePassword = true, "", false
			out = append(out, item)
		}
	}
	return out, nil
}
