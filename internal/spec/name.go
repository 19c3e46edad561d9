package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// MaxIdentLen is PostgreSQL's NAMEDATALEN-1: longer names are truncated by
// the server, so generated names must fit.
const MaxIdentLen = 63

// Slug lowercases s, turns every run of characters outside [a-z0-9] into one
// underscore and trims underscores from both ends.
func Slug(s string) string {
	var b strings.Builder
	pending := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if pending && b.Len() > 0 {
				b.WriteByte('_')
			}
			pending = false
			b.WriteRune(r)
			continue
		}
		pending = true
	}
	return b.String()
}

// RoleName returns the generated role name
// <prefix>_<resource slug>_<label slug>_<hash8>, where hash8 is the first 8
// hex digits of SHA-256(resource + ":" + label) over the raw strings. The
// resource slug is cut so that the name fits 63 bytes ("x" if it ends up
// empty). It fails with errs.Invalid for an empty label or one too long to fit.
func RoleName(prefix, resource, label string) (string, error) {
	ls := Slug(label)
	if ls == "" {
		return "", errs.Invalidf("role label %q is empty once reduced to [a-z0-9_]", label)
	}
	sum := sha256.Sum256([]byte(resource + ":" + label))
	hash8 := hex.EncodeToString(sum[:])[:8]
	room := MaxIdentLen - len(prefix) - len(ls) - len(hash8) - 3
	if room < 1 {
		return "", errs.Invalidf("role label %q is too long: the generated name would exceed %d bytes", label, MaxIdentLen)
	}
	rs := Slug(resource)
	if len(rs) > room {
		rs = strings.TrimRight(rs[:room], "_")
	}
	if rs == "" {
		rs = "x"
	}
	return prefix + "_" + rs + "_" + ls + "_" + hash8, nil
}

// PGName is the role's PostgreSQL name: its role_name when the declaration
// gives one, else the generated RoleName.
func (r Role) PGName(prefix string) (string, error) {
	if r.Name != "" {
		return r.Name, nil
	}
	return RoleName(prefix, r.Resource, r.Label)
}

// ValidPrefix reports whether p can start a role name: a lowercase letter,
// then [a-z0-9_], at most 20 bytes.
func ValidPrefix(p string) error {
	if p == "" || len(p) > 20 || p[0] < 'a' || p[0] > 'z' {
		return errs.Invalidf("role prefix %q must start with a lowercase letter and be 1–20 bytes", p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
			return errs.Invalidf("role prefix %q may only hold [a-z0-9_]", p)
		}
	}
	return nil
}
