package service

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// Import row actions.
const (
	ActionNew       = api.ActionNew
	ActionUpdate    = api.ActionUpdate
	ActionUnchanged = api.ActionUnchanged
	ActionError     = api.ActionError
)

// ImportRow is api.ImportRow (the wire type), kept here for the server side.
type ImportRow = api.ImportRow

// ImportResult is api.ImportResult (the wire type), kept here for the server side.
type ImportResult = api.ImportResult

// ImportResources previews an inventory CSV against the store and, unless
// dryRun or any row is in error, writes every row in one transaction. With
// error rows it returns the preview and an errs.Invalid that names the first
// row in error by its line and counts the others; nothing is written.
func (s *Inventory) ImportResources(ctx context.Context, p Principal, csv []byte, dryRun bool) (ImportResult, error) {
	if err := p.MayAdminister(); err != nil {
		return ImportResult{}, err
	}
	rows, err := spec.ParseResourcesCSV(csv)
	if err != nil {
		return ImportResult{}, err
	}
	return s.ImportRows(ctx, p, rows, dryRun)
}

// ImportRows is ImportResources for rows already parsed (the web app's
// single-resource form makes one).
func (s *Inventory) ImportRows(ctx context.Context, p Principal, rows []spec.ResourceRow, dryRun bool) (ImportResult, error) {
	if err := p.MayAdminister(); err != nil {
		return ImportResult{}, err
	}
	existing, err := s.resourceMap(ctx)
	if err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	var write []spec.Resource
	var firstBad *spec.ResourceRow
	bad := 0
	for _, row := range rows {
		ir := ImportRow{Line: row.Line, Name: row.Resource.Name, Resource: row.Resource}
		switch old, ok := existing[row.Resource.Name]; {
		case row.Error != "":
			ir.Action, ir.Error = ActionError, row.Error
			if bad == 0 {
				firstBad = &row
			}
			bad++
		case !ok:
			ir.Action = ActionNew
		default:
			ir.Changes = resourceChanges(old.Resource, row.Resource)
			ir.Action = ActionUnchanged
			if len(ir.Changes) > 0 {
				ir.Action = ActionUpdate
			}
		}
		if ir.Action == ActionNew || ir.Action == ActionUpdate {
			write = append(write, row.Resource)
		}
		res.Rows = append(res.Rows, ir)
	}
	switch {
	case bad == 1:
		return res, errs.Invalidf("line %d: %s; nothing was imported", firstBad.Line, firstBad.Error)
	case bad == 2:
		return res, errs.Invalidf("line %d: %s (and 1 more row with errors); nothing was imported", firstBad.Line, firstBad.Error)
	case bad > 2:
		return res, errs.Invalidf("line %d: %s (and %d more rows with errors); nothing was imported", firstBad.Line, firstBad.Error, bad-1)
	}
	if dryRun || len(write) == 0 {
		return res, nil
	}
	if err := s.store.UpsertResources(ctx, write, agent.LocalName); err != nil {
		return res, fmt.Errorf("import resources: %w", err)
	}
	res.Written = true
	return res, nil
}

func resourceChanges(old, new spec.Resource) []string {
	var out []string
	add := func(field, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: %s -> %s", field, a, b))
		}
	}
	add("type", old.Type, new.Type)
	add("host", old.Host, new.Host)
	add("port", strconv.Itoa(old.Port), strconv.Itoa(new.Port))
	add("database", old.Database, new.Database)
	add("sslmode", old.SSLMode, new.SSLMode)
	return out
}

func (s *core) resourceMap(ctx context.Context) (map[string]store.Resource, error) {
	list, err := s.store.Resources(ctx)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	m := make(map[string]store.Resource, len(list))
	for _, r := range list {
		m[r.Name] = r
	}
	return m, nil
}

// ResourceView is api.ResourceView (the wire type), kept here for the server side.
type ResourceView = api.ResourceView

// ListResources lists the inventory with each resource's setup progress.
func (s *Inventory) ListResources(ctx context.Context, p Principal) ([]ResourceView, error) {
	if err := p.MayAdminister(); err != nil {
		return nil, err
	}
	list, err := s.store.Resources(ctx)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	count := map[string]int{}
	provisioned := map[string]bool{}
	for _, r := range roles {
		count[r.Resource]++
		if r.Status == "applied" || r.Status == "skipped" || r.Status == "in-sync" {
			provisioned[r.Resource] = true
		}
	}
	out := make([]ResourceView, 0, len(list))
	for _, r := range list {
		v := ResourceView{Resource: r.Resource, Agent: r.Agent, AdminSet: r.AdminUser != "", AdminUser: r.AdminUser, Roles: count[r.Name]}
		switch {
		case provisioned[r.Name]:
			v.Progress, v.Stage = 3, "provision"
		case v.AdminSet:
			v.Progress, v.Stage = 2, "manage"
		default:
			v.Progress, v.Stage = 1, "inventory"
		}
		out = append(out, v)
	}
	return out, nil
}

// RemoveResource removes a resource from the inventory with its admin
// credential and role records; the roles stay in PostgreSQL and the
// sessions stay in the audit trail.
func (s *Inventory) RemoveResource(ctx context.Context, p Principal, name string) error {
	if err := p.MayAdminister(); err != nil {
		return err
	}
	if err := s.store.DeleteResource(ctx, name); err != nil {
		return err
	}
	s.log.Info("resource removed", "resource", name)
	return nil
}
