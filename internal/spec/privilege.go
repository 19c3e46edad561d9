package spec

import (
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// Privileges a managed role may request, in their canonical order. Table
// privileges apply to every relation of kind r, p, v, m, f in a scope schema;
// CREATE is CREATE on the schema; EXECUTE is EXECUTE on all routines.
var (
	TablePrivileges = []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"}
	knownPrivileges = append(slices.Clone(TablePrivileges), "CREATE", "EXECUTE", "ALL")
)

// Privileges returns every privilege a managed role may request, in
// canonical order.
func Privileges() []string { return slices.Clone(knownPrivileges) }

// PrivilegeRank orders privileges canonically; unknown names sort last.
func PrivilegeRank(p string) int {
	if i := slices.Index(knownPrivileges, p); i >= 0 {
		return i
	}
	return len(knownPrivileges)
}

// SortPrivileges sorts privileges in canonical order, in place.
func SortPrivileges(ps []string) {
	slices.SortFunc(ps, func(a, b string) int {
		if d := PrivilegeRank(a) - PrivilegeRank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
}

// NormalizePrivileges upper-cases, trims, de-duplicates and sorts ps. An
// unknown privilege is an errs.Invalid naming it and the accepted set.
func NormalizePrivileges(ps []string) ([]string, error) {
	var out []string
	for _, p := range ps {
		p = strings.ToUpper(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !slices.Contains(knownPrivileges, p) {
			return nil, errs.Invalidf("unknown privilege %q (accepted: %s)", p, strings.Join(knownPrivileges, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	SortPrivileges(out)
	return out, nil
}
