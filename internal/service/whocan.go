package service

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// WhoCan answers who holds q's privilege on q's table (or column) on each
// of resources (every resource when none is named), as PostgreSQL decides
// it, and how; for each role stile made, its masking rules and the groups
// and people who may use it through stile. A resource that cannot be asked
// (its agent offline, no such database there) is named in Errors; naming
// one resource makes that an error.
func (s *Access) WhoCan(ctx context.Context, p Principal, resources []string, q inspect.WhoCanQuery) (api.WhoCan, error) {
	out := api.WhoCan{Query: q, Holders: []api.WhoCanHolder{}}
	if err := p.MayAdminister(); err != nil {
		return out, err
	}
	if q.Database == "" || q.Schema == "" || q.Table == "" {
		return out, errs.Invalidf("name the table as database.schema.table[.column]")
	}
	all, err := s.store.Resources(ctx)
	if err != nil {
		return out, err
	}
	for _, name := range resources {
		if !slices.ContainsFunc(all, func(r store.Resource) bool { return r.Name == name }) {
			return out, errs.New(errs.NotFound, "resource %q does not exist", name)
		}
	}
	v, err := s.view(ctx)
	if err != nil {
		return out, err
	}
	for _, r := range all {
		if len(resources) > 0 && !slices.Contains(resources, r.Name) {
			continue
		}
		if r.AdminUser == "" {
			if len(resources) == 1 {
				return out, errs.Invalidf("resource %q has no admin credentials: run stile resources admin set %s", r.Name, r.Name)
			}
			out.Errors = append(out.Errors, r.Name+": no admin credentials")
			continue
		}
		holders, err := s.whoCanOn(ctx, r.Name, q)
		switch {
		case err == nil:
		case len(resources) == 1:
			return out, err
		case errs.Is(err, errs.NotFound) && len(resources) == 0:
			continue // that database or table is not on this resource
		default:
			out.Errors = append(out.Errors, r.Name+": "+errs.Public(s.log, err, "resource", r.Name))
			continue
		}
		roles, err := s.store.Roles(ctx, r.Name)
		if err != nil {
			return out, err
		}
		for _, h := range holders {
			row := api.WhoCanHolder{Resource: r.Name, Holder: h, Stile: "unmanaged"}
			if slices.ContainsFunc(roles, func(x store.Role) bool { return x.RoleName == h.Role }) {
				row.Stile = "managed"
				rules, err := s.store.MaskRules(ctx, h.Role)
				if err != nil {
					return out, err
				}
				for _, rule := range rules {
					row.Masking = append(row.Masking, rule.ID)
				}
				for _, g := range v.byRole[h.Role] {
					row.Groups = append(row.Groups, api.GroupUse{Group: g.Group, Eligible: g.Eligible})
					for _, u := range v.groups[g.Group] {
						if i := slices.IndexFunc(row.People, func(x api.PersonUse) bool { return x.User == u }); i >= 0 {
							row.People[i].Eligible = row.People[i].Eligible && g.Eligible
							continue
						}
						row.People = append(row.People, api.PersonUse{User: u, Eligible: g.Eligible})
					}
				}
			}
			out.Holders = append(out.Holders, row)
		}
	}
	return out, nil
}

// whoCanOn asks resource's agent.
func (s *core) whoCanOn(ctx context.Context, resource string, q inspect.WhoCanQuery) ([]inspect.Holder, error) {
	t, ag, err := s.resourceAgent(ctx, resource)
	if err != nil {
		return nil, err
	}
	return ag.WhoCan(ctx, t, q)
}

// resourceAgent returns resource's admin target and the agent that
// reaches it.
func (s *core) resourceAgent(ctx context.Context, resource string) (target.Target, agent.Agent, error) {
	r, err := s.store.Resource(ctx, resource)
	if err != nil {
		return target.Target{}, nil, err
	}
	t, err := s.target(r)
	if err != nil {
		return target.Target{}, nil, err
	}
	ag, err := s.agent(r.Agent)
	return t, ag, err
}
