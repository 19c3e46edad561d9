package spec

import (
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// Scope is a parsed scope: a whole database (Schema empty), possibly less
// some of its schemas (Exclude), or one schema.
type Scope struct {
	Database string
	Schema   string
	Exclude  []string
}

// MarshalText renders the scope in canonical form: scopes travel as text.
func (s Scope) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses text with ParseScope.
func (s *Scope) UnmarshalText(text []byte) error {
	sc, err := ParseScope(string(text))
	if err != nil {
		return err
	}
	*s = sc
	return nil
}

// ParseScope parses "db", "db.schema", "db!schema[!schema…]" (the database
// without those schemas), with double-quoted parts for names that hold a
// dot, a "!" or a quote ("my.db".public). Anything else is ambiguous and
// rejected.
func ParseScope(s string) (Scope, error) {
	parts, seps, err := splitScope(strings.TrimSpace(s))
	if err != nil {
		return Scope{}, errs.Invalidf("scope %q: %v", s, err)
	}
	switch {
	case len(parts) == 1:
		return Scope{Database: parts[0]}, nil
	case len(parts) == 2 && seps[0] == '.':
		return Scope{Database: parts[0], Schema: parts[1]}, nil
	case !strings.Contains(string(seps), "."):
		return Scope{Database: parts[0], Exclude: parts[1:]}, nil
	}
	return Scope{}, errs.Invalidf("scope %q is not database, database.schema or database!schema; double-quote names that contain dots", s)
}

// String renders the scope in canonical form, quoting parts that need it.
func (s Scope) String() string {
	switch {
	case s.Schema != "":
		return quotePart(s.Database) + "." + quotePart(s.Schema)
	case len(s.Exclude) > 0:
		out := quotePart(s.Database)
		for _, x := range s.Exclude {
			out += "!" + quotePart(x)
		}
		return out
	}
	return quotePart(s.Database)
}

// Excludes reports whether the scope leaves schema out.
func (s Scope) Excludes(schema string) bool {
	for _, x := range s.Exclude {
		if x == schema {
			return true
		}
	}
	return false
}

func quotePart(p string) string {
	if p != "" && !strings.ContainsAny(p, `."!`) && strings.TrimSpace(p) == p {
		return p
	}
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}

// splitScope splits s at '.' and '!' outside double quotes, returning the
// names and the separators between them.
func splitScope(s string) ([]string, []byte, error) {
	var parts []string
	var seps []byte
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
				return nil, nil, errs.Invalidf("quote in the middle of a name")
			}
			cur.Reset()
			inQuote, quoted = true, true
		case c == '.' || c == '!':
			if err := flush(); err != nil {
				return nil, nil, err
			}
			seps = append(seps, c)
		default:
			if quoted {
				return nil, nil, errs.Invalidf("text after a closing quote")
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, nil, errs.Invalidf("unterminated quote")
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	return parts, seps, nil
}
