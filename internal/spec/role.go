package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// Role types.
const (
	Managed  = "managed"
	External = "external"
)

// Role is one declared role: the unit a plan is made for.
type Role struct {
	Resource       string   `json:"resource_name" yaml:"resource_name"`
	Type           string   `json:"type" yaml:"type"`
	Label          string   `json:"role" yaml:"role"`
	Scopes         []string `json:"scopes,omitempty" yaml:"scopes,omitempty"`
	Privileges     []string `json:"privileges,omitempty" yaml:"privileges,omitempty"`
	SourceRole     string   `json:"source_role,omitempty" yaml:"source_role,omitempty"`
	RotatePassword bool     `json:"rotate_password,omitempty" yaml:"rotate_password,omitempty"`
	// Retire asks for the role's removal: everything it owns goes to Heir
	// (each database's owner when empty), its grants are dropped, its
	// sessions ended, and the role dropped.
	Retire bool   `json:"retire,omitempty" yaml:"-"`
	Heir   string `json:"heir,omitempty" yaml:"-"`
}

// Normalize validates r and returns it in canonical form: type lower-cased
// (empty means managed), scopes parsed, re-rendered and de-duplicated in the
// order given, privileges upper-cased and sorted. It returns an errs.Invalid
// that names the offending field.
func (r Role) Normalize() (Role, error) {
	r.Resource = strings.TrimSpace(r.Resource)
	r.Label = strings.TrimSpace(r.Label)
	r.SourceRole = strings.TrimSpace(r.SourceRole)
	r.Type = strings.ToLower(strings.TrimSpace(r.Type))
	if r.Type == "" {
		r.Type = Managed
	}
	if r.Resource == "" {
		return r, errs.Invalidf("resource_name is empty")
	}
	if r.Label == "" {
		return r, errs.Invalidf("role label is empty")
	}
	if Slug(r.Label) == "" {
		return r, errs.Invalidf("role label %q has no letters or digits", r.Label)
	}
	var scopes []string
	for _, s := range r.Scopes {
		if strings.TrimSpace(s) == "" {
			continue
		}
		sc, err := ParseScope(s)
		if err != nil {
			return r, err
		}
		if txt := sc.String(); !slices.Contains(scopes, txt) {
			scopes = append(scopes, txt)
		}
	}
	r.Scopes = scopes
	if r.Retire {
		if r.Type != Managed && r.Type != External {
			return r, errs.Invalidf("type %q is not managed or external", r.Type)
		}
		return r, nil
	}
	privs, err := NormalizePrivileges(r.Privileges)
	if err != nil {
		return r, err
	}
	r.Privileges = privs
	switch r.Type {
	case Managed:
		if r.SourceRole != "" {
			return r, errs.Invalidf("source_role is only for external roles (role %q is managed)", r.Label)
		}
		if len(r.Scopes) == 0 {
			return r, errs.Invalidf("managed role %q needs at least one scope", r.Label)
		}
		if len(r.Privileges) == 0 {
			return r, errs.Invalidf("managed role %q needs at least one privilege", r.Label)
		}
	case External:
		if r.SourceRole == "" {
			return r, errs.Invalidf("external role %q needs a source_role", r.Label)
		}
		if len(r.Scopes) > 0 || len(r.Privileges) > 0 {
			return r, errs.Invalidf("external role %q takes no scopes or privileges: it inherits %q", r.Label, r.SourceRole)
		}
	default:
		return r, errs.Invalidf("type %q is not managed or external", r.Type)
	}
	return r, nil
}

// ParseScopes returns r's scopes as typed values, parsed once at the edge
// (where a plan's input is made); a bad one is errs.Invalid.
func (r Role) ParseScopes() ([]Scope, error) {
	out := make([]Scope, 0, len(r.Scopes))
	for _, s := range r.Scopes {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// Key identifies a role within a resource by its label's slug: labels that
// slug alike would give confusingly similar role names.
func (r Role) Key() string { return r.Resource + "\x00" + LabelKey(r.Label) }

// LabelKey is what two labels of one resource must not share: the slug
// without separators, so that ro, RO, r.o and r_o all clash.
func LabelKey(label string) string { return strings.ReplaceAll(Slug(label), "_", "") }

// ValidateBatch normalizes every item and rejects duplicates and items whose
// labels slug alike within a resource. Errors name the item by position.
func ValidateBatch(items []Role) ([]Role, error) {
	if len(items) == 0 {
		return nil, errs.Invalidf("no items to plan")
	}
	out := make([]Role, len(items))
	seen := map[string]int{}
	var problems []string
	for i, it := range items {
		n, err := it.Normalize()
		if err != nil {
			problems = append(problems, fmt.Sprintf("item %d: %v", i+1, err))
			continue
		}
		out[i] = n
		if j, ok := seen[n.Key()]; ok {
			prev := out[j]
			what := "duplicates"
			if prev.Label != n.Label || fmt.Sprint(prev) != fmt.Sprint(n) {
				what = "conflicts with"
			}
			problems = append(problems, fmt.Sprintf("item %d (%s/%s) %s item %d (%s/%s)", i+1, n.Resource, n.Label, what, j+1, prev.Resource, prev.Label))
			continue
		}
		seen[n.Key()] = i
	}
	if len(problems) > 0 {
		return nil, errs.Invalidf("%s", strings.Join(problems, "; "))
	}
	return out, nil
}
