package service

import (
	"context"
	"fmt"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
)

// RolePreview is one row of a roles file as the plan would take it.
type RolePreview struct {
	Row      int       `json:"row"`
	Role     spec.Role `json:"role"`
	RoleName string    `json:"role_name,omitempty"`
	Error    string    `json:"error,omitempty"`
}

// PreviewRoles validates each item on its own and says, per row, what is
// wrong with it: invalid fields, an unknown resource or one without admin,
// a duplicate or conflicting row, a label that slugs like another. Plan
// runs the same checks on the whole batch.
func (s *Provisioning) PreviewRoles(ctx context.Context, p Principal, items []spec.Role) ([]RolePreview, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	resources, err := s.resourceMap(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]RolePreview, len(items))
	seen := map[string]int{}
	stored := map[string]map[string]string{} // resource -> label key -> label
	for i, it := range items {
		p := RolePreview{Row: i + 1, Role: it}
		n, err := it.Normalize()
		switch res, ok := resources[n.Resource]; {
		case err != nil:
			p.Error = errs.Public(s.log, err, "row", p.Row)
		case !ok:
			p.Error = fmt.Sprintf("resource %q is not in the inventory", n.Resource)
		case res.AdminUser == "":
			p.Error = fmt.Sprintf("resource %q has no admin credentials", n.Resource)
		}
		if p.Error == "" {
			p.Role = n
			p.RoleName, err = spec.RoleName(s.prefix, n.Resource, n.Label)
			if err != nil {
				p.Error = errs.Public(s.log, err, "row", p.Row)
			}
		}
		if p.Error == "" {
			if j, dup := seen[n.Key()]; dup {
				p.Error = fmt.Sprintf("duplicates or conflicts with row %d", j)
			} else {
				seen[n.Key()] = p.Row
			}
		}
		if p.Error == "" {
			if stored[n.Resource] == nil {
				stored[n.Resource] = map[string]string{}
				roles, err := s.store.Roles(ctx, n.Resource)
				if err != nil {
					return nil, err
				}
				for _, r := range roles {
					stored[n.Resource][spec.LabelKey(r.Label)] = r.Label
				}
			}
			if old, ok := stored[n.Resource][spec.LabelKey(n.Label)]; ok && old != n.Label {
				p.Error = fmt.Sprintf("label %q slugs like existing role %q", n.Label, old)
			}
		}
		out[i] = p
	}
	return out, nil
}
