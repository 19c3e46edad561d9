package service

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// Suggestion is the wire type of a narrower declaration drawn from use.
type Suggestion = api.Suggestion

// Suggest reads the statements role's connections through stile ran in
// the last days days, parses them with PostgreSQL's parser, and proposes
// the role's declaration narrowed to the scopes and table privileges they
// used. An unqualified table is taken to be in public (the default search
// path); privileges statements cannot show (guard.Judged: REFERENCES, TRIGGER, MAINTAIN, CREATE, EXECUTE) are kept. The
// suggestion is a declaration: plan it to review and apply it.
func (s *Reporting) Suggest(ctx context.Context, p Principal, role string, days int) (Suggestion, error) {
	if err := p.MayAdminister(); err != nil {
		return Suggestion{}, err
	}
	if days < 1 || days > store.UsageDays {
		return Suggestion{}, errs.Invalidf("days must be 1 to %d, not %d", store.UsageDays, days)
	}
	r, err := s.declared(ctx, role)
	if err != nil {
		return Suggestion{}, err
	}
	if r.Spec.Type == "external" {
		return Suggestion{}, errs.Invalidf("%s inherits %s: it has no privileges of its own to narrow", role, r.Spec.SourceRole)
	}
	since := s.now().AddDate(0, 0, -days)
	out := Suggestion{Role: role, Days: days, Since: since, Current: r.Spec, Used: []api.ScopeUse{}, UnusedPrivileges: []string{}, UnusedScopes: []string{}}
	sessions, err := s.store.Sessions(ctx, store.SessionFilter{Resource: r.Resource, Kind: KindConnect, Since: since, Limit: 100000})
	if err != nil {
		return out, err
	}
	used := map[string]map[string]bool{}   // scope → privileges
	tables := map[string]map[string]bool{} // scope → tables
	outside := map[string]bool{}
	type reading struct {
		uses []guard.Use
		ok   bool
	}
	parsed := map[string]reading{} // sessions repeat their statements
	for _, x := range sessions {
		if x.Role != role || x.Status == "running" || x.Status == "failed" {
			continue
		}
		out.Connections++
		var in struct{ Database string }
		json.Unmarshal([]byte(x.Input), &in)
		for _, sql := range recordedStatements(x.Output) {
			out.Statements++
			rd, seen := parsed[sql]
			if !seen {
				uses, err := guard.Uses(sql)
				rd = reading{uses, err == nil}
				parsed[sql] = rd
			}
			if !rd.ok {
				out.Unreadable++
				continue
			}
			uses := rd.uses
			for _, u := range uses {
				scope := in.Database + "." + cmp.Or(u.Schema, "public")
				if !inScopes(r.Spec.Scopes, scope) {
					outside[scope+"."+u.Relation] = true
					continue
				}
				if used[scope] == nil {
					used[scope], tables[scope] = map[string]bool{}, map[string]bool{}
				}
				used[scope][u.Privilege], tables[scope][u.Relation] = true, true
			}
		}
	}
	usedPrivs := map[string]bool{}
	for _, scope := range sortedKeys(used) {
		privs := sortedKeys(used[scope])
		spec.SortPrivileges(privs)
		out.Used = append(out.Used, api.ScopeUse{Scope: scope, Privileges: privs, Tables: len(tables[scope])})
		for _, p := range privs {
			usedPrivs[p] = true
		}
	}
	out.Outside = sortedKeys(outside)
	held := r.Spec.Privileges
	if slices.Contains(held, "ALL") {
		held = append(slices.Clone(spec.TablePrivileges), "CREATE", "EXECUTE")
	}
	var keep []string
	for _, p := range held {
		switch {
		case !guard.Judged(p):
			out.NotJudged = append(out.NotJudged, p)
			keep = append(keep, p)
		case usedPrivs[p]:
			keep = append(keep, p)
		default:
			out.UnusedPrivileges = append(out.UnusedPrivileges, p)
		}
	}
	for _, sc := range r.Spec.Scopes {
		if !slices.ContainsFunc(sortedKeys(used), func(u string) bool { return inScopes([]string{sc}, u) }) {
			out.UnusedScopes = append(out.UnusedScopes, sc)
		}
	}
	if len(used) > 0 {
		narrower := r.Spec
		narrower.Scopes, narrower.Privileges = sortedKeys(used), keep
		narrower.RotatePassword, narrower.Retire, narrower.Heir = false, false, ""
		out.Suggested = &narrower
	}
	return out, nil
}

// recordedStatements are the statements a connect session's output lists
// (each a quoted line under "statements:").
func recordedStatements(output string) []string {
	_, rest, ok := strings.Cut(output, "\nstatements:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(rest, "\n") {
		q, ok := strings.CutPrefix(line, "  - ")
		if !ok {
			break
		}
		if sql, err := strconv.Unquote(q); err == nil {
			out = append(out, sql)
		}
	}
	return out
}

// inScopes reports whether database.schema falls in one of scopes (a
// database, or a database.schema).
func inScopes(scopes []string, dbSchema string) bool {
	db, _, _ := strings.Cut(dbSchema, ".")
	return slices.ContainsFunc(scopes, func(s string) bool { return s == db || s == dbSchema })
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
