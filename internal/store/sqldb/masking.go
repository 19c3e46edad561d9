package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
)

// MaskRules lists a role's masking rules.
func (s *DB) MaskRules(ctx context.Context, role string) ([]mask.Rule, error) {
	return queryAll(ctx, s.c(), "list masking rules", func(row scanner) (mask.Rule, error) {
		var r mask.Rule
		return r, row.Scan(&r.ID, &r.Column, &r.Detector, &r.Regex, &r.Style, &r.Strict)
	}, "SELECT id, col, detector, regex, style, strict FROM {mask_rules} WHERE role_name = ? ORDER BY created_at, id{C}", role)
}

// StrictColumns returns every role's strict column rules' patterns.
func (s *DB) StrictColumns(ctx context.Context) (map[string][]string, error) {
	type row struct{ role, col string }
	rows, err := queryAll(ctx, s.c(), "list strict masking rules", func(r scanner) (row, error) {
		var x row
		return x, r.Scan(&x.role, &x.col)
	}, "SELECT role_name, col FROM {mask_rules} WHERE strict ORDER BY role_name, col{C}")
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rows {
		if cols := out[r.role]; len(cols) == 0 || cols[len(cols)-1] != r.col { // two rules may name one column
			out[r.role] = append(cols, r.col)
		}
	}
	return out, nil
}

// AddMaskRule adds a masking rule.
func (s *DB) AddMaskRule(ctx context.Context, role string, r mask.Rule, at time.Time) error {
	c := s.c()
	_, err := c.exec(ctx, "INSERT INTO {mask_rules} (role_name, id, col, detector, regex, style, strict, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		role, r.ID, r.Column, r.Detector, r.Regex, r.Style, r.Strict, c.tm(at))
	return s.conflictOr(err, "rule %s exists already", r.ID)
}

// DeleteMaskRule removes a masking rule.
func (s *DB) DeleteMaskRule(ctx context.Context, role, id string) error {
	n, err := s.c().affect(ctx, "DELETE FROM {mask_rules} WHERE role_name = ? AND id = ?", role, id)
	if err != nil {
		return fmt.Errorf("remove masking rule: %w", err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "%s has no masking rule %s", role, id)
	}
	return nil
}

// Guardrails returns a role's guardrails.
func (s *DB) Guardrails(ctx context.Context, role string) (guard.Policy, error) {
	var p guard.Policy
	var block string
	err := s.c().row(ctx, "SELECT block, read_only FROM {guardrails} WHERE role_name = ?", role).Scan(&block, &p.ReadOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if block != "" {
		p.Block = strings.Split(block, ",")
	}
	return p, err
}

// SetGuardrails replaces a role's guardrails.
func (s *DB) SetGuardrails(ctx context.Context, role string, p guard.Policy) error {
	_, err := s.c().exec(ctx, "INSERT INTO {guardrails} (role_name, block, read_only) VALUES (?, ?, ?) ON CONFLICT (role_name) DO UPDATE SET block = excluded.block, read_only = excluded.read_only",
		role, strings.Join(p.Block, ","), p.ReadOnly)
	if err != nil {
		return fmt.Errorf("set guardrails: %w", err)
	}
	return nil
}
