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
	// Group is a NOLOGIN role that holds privileges on scopes, as a managed
	// role does, for the roles declared member_of it.
	Group = "group"
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
	// Name is the role's PostgreSQL name when the declaration gives one
	// (role_name): an existing role to take over (with Adopt) or a role to
	// create under that name. Empty: stile generates the name.
	Name string `json:"role_name,omitempty" yaml:"role_name,omitempty"`
	// Adopt takes over the existing role Name: refused for a superuser and,
	// unless Replication or BypassRLS says so, for a role with those
	// attributes. Its password stays until a rotation.
	Adopt       bool `json:"adopt,omitempty" yaml:"adopt,omitempty"`
	Replication bool `json:"replication,omitempty" yaml:"replication,omitempty"`
	BypassRLS   bool `json:"bypassrls,omitempty" yaml:"bypassrls,omitempty"`
	// MemberOf are labels of group roles of the same resource: the role
	// holds their privileges through membership (INHERIT).
	MemberOf []string `json:"member_of,omitempty" yaml:"member_of,omitempty"`
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
	r.Name = strings.TrimSpace(r.Name)
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
	if err := r.normalizeTakeover(); err != nil {
		return r, err
	}
	if r.Retire {
		if r.Type != Managed && r.Type != External && r.Type != Group {
			return r, errs.Invalidf("type %q is not managed, external or group", r.Type)
		}
		return r, nil
	}
	privs, err := NormalizePrivileges(r.Privileges)
	if err != nil {
		return r, err
	}
	r.Privileges = privs
	switch r.Type {
	case Managed, Group:
		if r.SourceRole != "" {
			return r, errs.Invalidf("source_role is only for external roles (role %q is %s)", r.Label, r.Type)
		}
		if r.Type == Group && len(r.MemberOf) > 0 {
			return r, errs.Invalidf("group %q cannot be member_of other groups (groups of groups are not supported yet)", r.Label)
		}
		if r.Type == Group && r.RotatePassword {
			return r, errs.Invalidf("group %q has no password to rotate: it cannot log in", r.Label)
		}
		if len(r.Scopes) == 0 && len(r.MemberOf) == 0 {
			return r, errs.Invalidf("%s role %q needs at least one scope", r.Type, r.Label)
		}
		if len(r.Scopes) > 0 && len(r.Privileges) == 0 {
			return r, errs.Invalidf("%s role %q needs at least one privilege", r.Type, r.Label)
		}
		if len(r.Scopes) == 0 && len(r.Privileges) > 0 {
			return r, errs.Invalidf("%s role %q has privileges but no scope to hold them on", r.Type, r.Label)
		}
	case External:
		if r.SourceRole == "" {
			return r, errs.Invalidf("external role %q needs a source_role", r.Label)
		}
		if len(r.Scopes) > 0 || len(r.Privileges) > 0 || len(r.MemberOf) > 0 {
			return r, errs.Invalidf("external role %q takes no scopes, privileges or member_of: it inherits %q", r.Label, r.SourceRole)
		}
	default:
		return r, errs.Invalidf("type %q is not managed, external or group", r.Type)
	}
	return r, nil
}

// normalizeTakeover checks role_name, adopt, the attributes an adopted
// role may keep, and member_of (trimmed, de-duplicated, sorted).
func (r *Role) normalizeTakeover() error {
	if r.Name != "" {
		if len(r.Name) > MaxIdentLen {
			return errs.Invalidf("role_name %q is longer than %d bytes", r.Name, MaxIdentLen)
		}
		if strings.ContainsRune(r.Name, 0) {
			return errs.Invalidf("role_name holds a NUL byte")
		}
		if strings.HasPrefix(r.Name, "pg_") || strings.EqualFold(r.Name, "public") {
			return errs.Invalidf("role_name %q is reserved by PostgreSQL", r.Name)
		}
	}
	if r.Adopt && r.Name == "" {
		return errs.Invalidf("role %q: adopt needs the role_name of the role to take over", r.Label)
	}
	if (r.Replication || r.BypassRLS) && !r.Adopt {
		return errs.Invalidf("role %q: replication and bypassrls are only kept on an adopted role", r.Label)
	}
	var groups []string
	for _, g := range r.MemberOf {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		if LabelKey(g) == LabelKey(r.Label) {
			return errs.Invalidf("role %q cannot be a member of itself", r.Label)
		}
		groups = append(groups, g)
	}
	slices.Sort(groups)
	r.MemberOf = slices.Compact(groups)
	return nil
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
