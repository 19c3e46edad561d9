package service

import (
	"context"
	"slices"

	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/store"
)

// Discover reads every role of resource's cluster through its agent: its
// attributes, memberships and what it owns or was granted per database,
// schema and kind of object, each marked managed when stile made it. With
// only, it keeps those roles.
func (s *Inventory) Discover(ctx context.Context, p Principal, resource string, only []string) (inspect.Discovery, error) {
	if err := p.MayAdminister(); err != nil {
		return inspect.Discovery{}, err
	}
	t, ag, err := s.resourceAgent(ctx, resource)
	if err != nil {
		return inspect.Discovery{}, err
	}
	d, err := ag.Discover(ctx, t)
	if err != nil {
		return d, err
	}
	roles, err := s.store.Roles(ctx, resource)
	if err != nil {
		return d, err
	}
	kept := d.Roles[:0]
	for _, x := range d.Roles {
		if len(only) > 0 && !slices.Contains(only, x.Name) {
			continue
		}
		x.Stile = "unmanaged"
		if i := slices.IndexFunc(roles, func(m store.Role) bool { return m.RoleName == x.Name }); i >= 0 {
			x.Stile = "managed"
			if roles[i].Spec.Adopt {
				x.Stile = "adopted"
			}
		}
		kept = append(kept, x)
	}
	d.Roles = kept
	return d, nil
}
