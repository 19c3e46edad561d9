// Package mask decides what of a query's result a person may see: masking
// rules of a resource role, each a column rule (database.schema.table.column,
// with * wildcards) or a content detector (email, payment card, IBAN, phone,
// IP address, JWT or bearer token, a custom regular expression), and a
// style (redact, partial, hash). It is pure: the proxy feeds it values and
// where they come from (stream.go).
package mask

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/spec"
)

// Styles.
const (
	Redact  = "redact"  // ****
	Partial = "partial" // the shape kept: j***@e******.com, the last 4 digits of a card
	Hash    = "hash"    // a keyed, stable token: joins and counts still work
)

// Detectors.
var Detectors = []string{"email", "card", "iban", "phone", "ipv4", "ipv6", "jwt", "regex"}

// Rule is one masking rule of a resource role: a column rule (Column) or a
// content detector (Detector, with Regex for "regex").
type Rule struct {
	ID       string `json:"id"`
	Column   string `json:"column,omitempty"`
	Detector string `json:"detector,omitempty"`
	Regex    string `json:"regex,omitempty"`
	Style    string `json:"style"`
	// Strict (column rules only) also withholds SELECT on the columns the
	// rule names: the planner grants the role column-level SELECT on the
	// table's other columns, so PostgreSQL itself refuses them.
	Strict bool `json:"strict,omitempty"`
}

// Validate checks r, naming what is wrong.
func (r Rule) Validate() error {
	switch {
	case (r.Column == "") == (r.Detector == ""):
		return fmt.Errorf("a rule is either a column (database.schema.table.column) or a detector (%s)", strings.Join(Detectors, ", "))
	case !slices.Contains([]string{Redact, Partial, Hash}, r.Style):
		return fmt.Errorf("style %q is not redact, partial or hash", r.Style)
	case r.Column != "":
		if err := spec.ColumnPattern(r.Column).Validate(); err != nil {
			return err
		}
	case r.Strict:
		return fmt.Errorf("strict goes with column rules: PostgreSQL withholds columns, not contents")
	case !slices.Contains(Detectors, r.Detector):
		return fmt.Errorf("detector %q is not one of %s", r.Detector, strings.Join(Detectors, ", "))
	case r.Detector == "regex":
		if r.Regex == "" {
			return fmt.Errorf("the regex detector needs --regex")
		}
		if _, err := regexp.Compile(r.Regex); err != nil {
			return fmt.Errorf("regex %q: %v", r.Regex, err)
		}
	case r.Regex != "":
		return fmt.Errorf("--regex goes with the regex detector")
	}
	return nil
}

// Column is where a result's value comes from, when its table's column.
type Column struct{ Database, Schema, Table, Name string }

func (c Column) String() string { return c.Database + "." + c.Schema + "." + c.Table + "." + c.Name }

// Masker applies a role's rules.
type Masker struct {
	columns   []Rule
	detectors []detector
	key       []byte
}

type detector struct {
	rule  Rule
	re    *regexp.Regexp
	valid func(string) bool
	// maybe is a cheap test a value must pass for the expression to have
	// a chance: most values are ordinary text, and regular expressions are
	// slow.
	maybe func([]byte) bool
	// within, when set, also finds what the expression's matches hide:
	// a card among other digits is no match as a whole.
	within func(s string, repl func(string) string) string
}

// precedence orders the detectors, most specific first.
var precedence = []string{"", "jwt", "email", "iban", "card", "ipv6", "ipv4", "phone", "regex"}

// builtin are the detectors' patterns and, where one exists, the check
// that keeps a lookalike (a number that is not a card) unmasked.
var builtin = map[string]struct {
	re     *regexp.Regexp
	valid  func(string) bool
	maybe  func([]byte) bool
	within func(string, func(string) string) string
}{
	"email": {regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`), nil, has('@'), nil},
	"card":  {regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`), luhn, digits(13), cardsAmongDigits},
	"iban":  {regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`), ibanValid, ibanLike, nil},
	"phone": {regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?\(?\d{2,4}\)?[ .-]\d{2,4}[ .-]?\d{2,4}(?:[ .-]?\d{2,4})?`), phoneValid, digits(8), nil},
	"ipv4":  {regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b`), nil, dotted, nil},
	"ipv6":  {regexp.MustCompile(`(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}`), ipv6Valid, colons, nil},
	"jwt":   {regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*`), nil, jwtLike, nil},
}

func has(c byte) func([]byte) bool {
	return func(v []byte) bool { return bytes.IndexByte(v, c) >= 0 }
}

// digits passes a value with at least n digits.
func digits(n int) func([]byte) bool {
	return func(v []byte) bool {
		k := 0
		for _, c := range v {
			if c >= '0' && c <= '9' {
				if k++; k >= n {
					return true
				}
			}
		}
		return false
	}
}

// dotted passes what could hold a dotted quad.
func dotted(v []byte) bool { return bytes.Count(v, []byte(".")) >= 3 && digits(4)(v) }

// ibanLike passes what holds two capitals and two digits in a row.
func ibanLike(v []byte) bool {
	for i := 0; i+3 < len(v); i++ {
		if v[i] >= 'A' && v[i] <= 'Z' && v[i+1] >= 'A' && v[i+1] <= 'Z' && v[i+2] >= '0' && v[i+2] <= '9' && v[i+3] >= '0' && v[i+3] <= '9' {
			return true
		}
	}
	return false
}

func colons(v []byte) bool { return bytes.Count(v, []byte(":")) >= 2 }

func jwtLike(v []byte) bool {
	return bytes.Contains(v, []byte("eyJ")) || bytes.Contains(bytes.ToLower(v), []byte("bearer"))
}

// New makes a masker of rules (each valid); key keys the hash style.
func New(rules []Rule, key []byte) (*Masker, error) {
	m := &Masker{key: key}
	// The specific detectors run first: an IP address is not a phone
	// number, and what one detector masked no later one finds again.
	order := func(r Rule) int { return slices.Index(precedence, r.Detector) }
	rules = slices.Clone(rules)
	slices.SortStableFunc(rules, func(a, b Rule) int { return order(a) - order(b) })
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if r.Column != "" {
			m.columns = append(m.columns, r)
			continue
		}
		d := detector{rule: r}
		if r.Detector == "regex" {
			d.re = regexp.MustCompile(r.Regex)
		} else {
			b := builtin[r.Detector]
			d.re, d.valid, d.maybe, d.within = b.re, b.valid, b.maybe, b.within
		}
		m.detectors = append(m.detectors, d)
	}
	return m, nil
}

// Empty reports whether m masks nothing.
func (m *Masker) Empty() bool { return m == nil || len(m.columns)+len(m.detectors) == 0 }

// HasColumnRules reports whether any rule names columns (their results
// need the columns resolved).
func (m *Masker) HasColumnRules() bool { return m != nil && len(m.columns) > 0 }

// ForColumn is the first column rule that matches c, or nil.
func (m *Masker) ForColumn(c Column) *Rule {
	for i, r := range m.columns {
		if matchColumn(r.Column, c) {
			return &m.columns[i]
		}
	}
	return nil
}

func matchColumn(pattern string, c Column) bool {
	return spec.ColumnPattern(pattern).Match(c.Database, c.Schema, c.Table, c.Name)
}

// Value masks v: all of it with col's rule when the value comes from a
// masked column, else what each detector finds in it. It returns the value
// to show and the ids of the rules that fired.
func (m *Masker) Value(v []byte, col *Rule) ([]byte, []string) {
	if col != nil {
		return []byte(m.style(col.Style, shape(string(v)), string(v))), []string{col.ID}
	}
	var fired []string
	var s string
	for _, d := range m.detectors {
		if d.maybe != nil && !d.maybe(v) {
			continue
		}
		if s == "" {
			s = string(v)
		}
		hit := false
		s = d.re.ReplaceAllStringFunc(s, func(match string) string {
			if d.valid == nil || d.valid(match) {
				hit = true
				return m.style(d.rule.Style, d.rule.Detector, match)
			}
			return match
		})
		if d.within != nil {
			s = d.within(s, func(match string) string {
				hit = true
				return m.style(d.rule.Style, d.rule.Detector, match)
			})
		}
		if hit {
			fired = append(fired, d.rule.ID)
		}
	}
	if fired == nil {
		return v, nil
	}
	return []byte(s), fired
}

// style masks s as the style says; kind (a detector, or "" for a column)
// picks the partial shape.
func (m *Masker) style(style, kind, s string) string {
	switch style {
	case Hash:
		h := hmac.New(sha256.New, m.key)
		h.Write([]byte(s))
		return "h:" + hex.EncodeToString(h.Sum(nil))[:16]
	case Partial:
		return partial(kind, s)
	}
	return "****"
}

// partial keeps the shape: an email's first letters and its top-level
// domain, a card's or an IBAN's last four, a phone's last two, else the
// first and last character.
func partial(kind, s string) string {
	r := []rune(s)
	keep := func(tail int) string {
		out := make([]rune, len(r))
		digits := 0
		for i := len(r) - 1; i >= 0; i-- {
			c := r[i]
			switch {
			case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
				out[i] = c
			case digits < tail:
				out[i] = c
				digits++
			default:
				out[i] = '*'
			}
		}
		return string(out)
	}
	switch kind {
	case "card", "iban":
		return keep(4)
	case "phone":
		return keep(2)
	case "email":
		local, domain, ok := strings.Cut(s, "@")
		if !ok {
			break
		}
		labels := strings.Split(domain, ".")
		for i := range labels[:len(labels)-1] {
			labels[i] = first(labels[i])
		}
		return first(local) + "@" + strings.Join(labels, ".")
	}
	if len(r) <= 2 {
		return strings.Repeat("*", len(r))
	}
	return string(r[0]) + strings.Repeat("*", len(r)-2) + string(r[len(r)-1])
}

// shape is how a masked column's value is kept partly: as an email, as a
// number whose last four digits show (a card, an account), or as text.
func shape(s string) string {
	if at := strings.IndexByte(s, '@'); at > 0 && strings.IndexByte(s[at:], '.') > 1 && !strings.ContainsAny(s, " \t\n") {
		return "email"
	}
	if len(digitsOf(s)) >= 8 && len(strings.Trim(s, "0123456789 -")) == 0 {
		return "card"
	}
	return ""
}

func first(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return s
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

func digitsOf(s string) []int {
	var d []int
	for _, c := range s {
		if c >= '0' && c <= '9' {
			d = append(d, int(c-'0'))
		}
	}
	return d
}

// luhn: a payment card number's check digit.
func luhn(s string) bool {
	d := digitsOf(s)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range d {
		v := d[len(d)-1-i]
		if i%2 == 1 {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

// ibanValid: ISO 13616's mod-97 check.
func ibanValid(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	rem := 0
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// phoneValid: 8 to 15 digits (E.164's bound).
func phoneValid(s string) bool {
	n := len(digitsOf(s))
	return n >= 8 && n <= 15
}

func ipv6Valid(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && strings.Count(s, ":") >= 2
}

// digitRuns are groups of digits joined by single spaces or dashes.
var digitRuns = regexp.MustCompile(`\d+(?:[ -]\d+)*`)

// cardsAmongDigits replaces, in each run of digit groups, the longest
// whole-group spans of 13 to 19 digits that pass Luhn's check.
func cardsAmongDigits(s string, repl func(string) string) string {
	return digitRuns.ReplaceAllStringFunc(s, func(run string) string {
		var starts, ends []int
		for i := 0; i < len(run); i++ {
			if run[i] >= '0' && run[i] <= '9' {
				if i == 0 || run[i-1] < '0' || run[i-1] > '9' {
					starts = append(starts, i)
				}
				if i == len(run)-1 || run[i+1] < '0' || run[i+1] > '9' {
					ends = append(ends, i+1)
				}
			}
		}
		if len(starts) > 32 {
			return run
		}
		var out strings.Builder
		pos := 0
		for si := 0; si < len(starts); si++ {
			a := starts[si]
			if a < pos {
				continue
			}
			for ei := len(ends) - 1; ei >= si; ei-- {
				b := ends[ei]
				if n := len(digitsOf(run[a:b])); n >= 13 && n <= 19 && luhn(run[a:b]) {
					out.WriteString(run[pos:a])
					out.WriteString(repl(run[a:b]))
					pos = b
					break
				}
			}
		}
		out.WriteString(run[pos:])
		return out.String()
	})
}
