package spec

import (
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// Scope is a parsed scope: a whole database (Schema empty) or one schema.
type Scope struct {
	Database string
	Schema   string
}

// ParseScope parses "db", "db.schema" or either with double-quoted parts
// ("my.db".public). A name containing a dot must be quoted; three parts are
// ambiguous and rejected.
func ParseScope(s string) (Scope, error) {
	parts, err := splitDotted(strings.TrimSpace(s))
	if err != nil {
		return Scope{}, errs.Invalidf("scope %q: %v", s, err)
	}
	switch len(parts) {
	case 1:
		return Scope{Database: parts[0]}, nil
	case 2:
		return Scope{Database: parts[0], Schema: parts[1]}, nil
	}
	return Scope{}, errs.Invalidf("scope %q has %d dot-separated parts; use database or database.schema and double-quote names that contain dots", s, len(parts))
}

// String renders the scope in canonical form, quoting parts that need it.
func (s Scope) String() string {
	if s.Schema == "" {
		return quotePart(s.Database)
	}
	return quotePart(s.Database) + "." + quotePart(s.Schema)
}

func quotePart(p string) string {
	if p != "" && !strings.ContainsAny(p, `."`) && strings.TrimSpace(p) == p {
		return p
	}
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}

func splitDotted(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	quoted, inQuote := false, false
	flush := func() error {
		p := cur.String()
		if !quoted {
			p = strings.TrimSpace(p)
		}
		if p == "" {
			return errs.Invalidf("empty name")
		}
		parts = append(parts, p)
		cur.Reset()
		quoted = false
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuote && c == '"':
			inQuote = false
		case inQuote:
			cur.WriteByte(c)
		case c == '"':
			if strings.TrimSpace(cur.String()) != "" {
				return nil, errs.Invalidf("quote in the middle of a name")
			}
			cur.Reset()
			inQuote, quoted = true, true
		case c == '.':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			if quoted {
				return nil, errs.Invalidf("text after a closing quote")
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, errs.Invalidf("unterminated quote")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return parts, nil
}
