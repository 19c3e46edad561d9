package service

import (
	"context"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// FleetRow is one resource on the Fleet page: its roles by status, when
// they were last planned, and the drift found since they last were in sync.
type FleetRow struct {
	Resource ResourceView
	// Statuses counts the resource's declared roles by status.
	Statuses map[string]int
	Roles    int
	// LastCheck is when the resource's roles were last planned (zero:
	// never); LastDrift the newest drift session, if any.
	LastCheck time.Time
	LastDrift *store.Session
}

// Fleet lists every resource with its roles' state, for the Fleet page.
func (s *Reporting) Fleet(ctx context.Context, p Principal) ([]FleetRow, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	resources, err := s.inventory.ListResources(ctx, p)
	if err != nil {
		return nil, err
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return nil, err
	}
	byResource := map[string][]store.Role{}
	for _, role := range roles {
		byResource[role.Resource] = append(byResource[role.Resource], role)
	}
	rows := make([]FleetRow, 0, len(resources))
	for _, r := range resources {
		row := FleetRow{Resource: r, Statuses: map[string]int{}, Roles: len(byResource[r.Name])}
		for _, role := range byResource[r.Name] {
			row.Statuses[role.Status]++
		}
		if last, err := s.store.Sessions(ctx, store.SessionFilter{Resource: r.Name, Kind: store.KindPlan, Limit: 1}); err != nil {
			return nil, err
		} else if len(last) > 0 {
			row.LastCheck = last[0].FinishedAt
		}
		if drift, err := s.store.Sessions(ctx, store.SessionFilter{Resource: r.Name, Kind: store.KindDrift, Limit: 1}); err != nil {
			return nil, err
		} else if len(drift) > 0 {
			row.LastDrift = &drift[0]
		}
		rows = append(rows, row)
	}
	return rows, nil
}
