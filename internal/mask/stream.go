package mask

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/stile-dev/stile/internal/guard"
)

// Filter masks the results of one PostgreSQL connection as they flow from
// the server to the client. It watches the client's messages (Frontend) to
// know, in the extended protocol, which statement or portal each result
// belongs to and in which format (text or binary) the client asked for each
// column, even when the client skips Describe (a driver's statement cache);
// and rewrites the server's DataRow messages (Backend).
//
// A column comes from a table when the row description names its table
// (OID) and attribute number: Resolve turns those into names for the column
// rules. A value in binary format is masked when its type's binary form is
// its text (text, varchar, bpchar, name, json, jsonb); a masked column
// asked for in another binary form fails the statement (42501) rather than
// let the value through. COPY TO STDOUT is refused the same way: its rows
// are not a result the filter reads.
type Filter struct {
	m       *Masker
	resolve func(table uint32, attnum int16) (Column, bool)
	// Guard, when set, says why a statement may not run ("" when it may):
	// the role's guardrails. A refused simple query is sent on as an empty
	// one and its answer replaced by the refusal; a refused Parse, and the
	// rest up to Sync, are held back and the Sync's answer preceded by the
	// refusal, as PostgreSQL answers an error there.
	Guard func(sql string) string
	// SchemaChanged, when set, is called when the client sends a statement
	// that may change tables or columns (guard.ChangesSchema), and again
	// when the transaction it ran in ends: the resolver forgets the column
	// names it knows, so a renamed column's rule follows it at once.
	SchemaChanged func()
	// ddl marks a transaction that sent such a statement.
	ddl bool
	// skipping holds back the client's messages until Sync after a refused
	// Parse, with why.
	skipping string
	blocked  []string

	mu      sync.Mutex
	pending []expect
	stmts   map[string][]field
	portals map[string]portal
	current []field // the simple query's result in progress
	// refusing drops the rest of a result after it was refused, until its
	// end (CommandComplete, PortalSuspended, or a COPY's end).
	refusing bool
	fired    map[string]int
	// lastRefused is the refusal to send before the next ReadyForQuery.
	lastRefused string
}

type expect struct {
	kind byte // the frontend message: P, B, D (describe S/P), E, S, C, Q
	sub  byte // describe's S or P
	name string
	// refused is why stile refused the statement this answer is for.
	refused string
}

// Message is one protocol message.
type Message struct {
	Type byte
	Body []byte
}

type field struct {
	table  uint32
	attnum int16
	typ    uint32
	format int16
	rule   *Rule
}

type portal struct {
	stmt    string
	formats []int16
	fields  []field // from Describe P, when the client asked
}

// NewFilter masks with m, resolving columns with resolve (nil: column
// rules never match, detectors still run).
func NewFilter(m *Masker, resolve func(table uint32, attnum int16) (Column, bool)) *Filter {
	return &Filter{m: m, resolve: resolve, stmts: map[string][]field{}, portals: map[string]portal{}, fired: map[string]int{}}
}

// NeedsColumns reports whether the filter must name result columns (its
// column rules), which takes a catalog query on the resource.
func (f *Filter) NeedsColumns() bool { return f.m.HasColumnRules() }

// Fired returns how many values each rule masked.
func (f *Filter) Fired() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.fired))
	for k, v := range f.fired {
		out[k] = v
	}
	return out
}

// Blocked returns the statements refused and why.
func (f *Filter) Blocked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.blocked)
}

func (f *Filter) refuse(why, sql string) {
	if len(sql) > 200 {
		sql = sql[:200] + "…"
	}
	if len(f.blocked) < 100 {
		f.blocked = append(f.blocked, why+": "+sql)
	}
}

// Frontend takes a whole message the client sends and returns what to send
// the server instead: the message, another (an empty query for a refused
// one), or nothing (held back after a refused Parse).
func (f *Filter) Frontend(typ byte, body []byte) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := reader{b: body}
	if f.skipping != "" {
		if typ != 'S' {
			return Message{}, false
		}
		f.pending = append(f.pending, expect{kind: 'S', refused: f.skipping})
		f.skipping = ""
		return Message{typ, body}, true
	}
	switch typ {
	case 'Q':
		if f.Guard != nil || f.SchemaChanged != nil {
			sql := r.cstring()
			f.schema(sql)
			if why := f.guard(sql); why != "" {
				f.refuse(why, sql)
				f.pending = append(f.pending, expect{kind: 'Q', refused: why})
				return Message{'Q', []byte{0}}, true
			}
		}
		f.pending = append(f.pending, expect{kind: 'Q'})
	case 'P':
		name := r.cstring()
		if f.Guard != nil || f.SchemaChanged != nil {
			sql := r.cstring()
			f.schema(sql)
			if why := f.guard(sql); why != "" {
				f.refuse(why, sql)
				f.skipping = why
				return Message{}, false
			}
		}
		delete(f.stmts, name)
		f.pending = append(f.pending, expect{kind: 'P'})
	case 'B':
		p := portal{}
		name := r.cstring()
		p.stmt = r.cstring()
		for range r.int16() { // parameter formats
			r.int16()
		}
		for range r.int16() { // parameters
			if n := r.int32(); n > 0 {
				r.skip(int(n))
			}
		}
		for range r.int16() {
			p.formats = append(p.formats, r.int16())
		}
		f.portals[name] = p
		f.pending = append(f.pending, expect{kind: 'B'})
	case 'D':
		sub := r.byte()
		f.pending = append(f.pending, expect{kind: 'D', sub: sub, name: r.cstring()})
	case 'E':
		f.pending = append(f.pending, expect{kind: 'E', name: r.cstring()})
	case 'C':
		sub, name := r.byte(), r.cstring()
		if sub == 'S' {
			delete(f.stmts, name)
		} else {
			delete(f.portals, name)
		}
		f.pending = append(f.pending, expect{kind: 'C'})
	case 'S':
		f.pending = append(f.pending, expect{kind: 'S'})
	}
	return Message{typ, body}, true
}

// guard is Guard's answer, "" when there is none.
func (f *Filter) guard(sql string) string {
	if f.Guard == nil {
		return ""
	}
	return f.Guard(sql)
}

// schema calls SchemaChanged when sql may change the schema.
func (f *Filter) schema(sql string) {
	if f.SchemaChanged != nil && guard.ChangesSchema(sql) {
		f.ddl = true
		f.SchemaChanged()
	}
}

func (f *Filter) pop() {
	if len(f.pending) > 0 {
		f.pending = f.pending[1:]
	}
}

func (f *Filter) head() expect {
	if len(f.pending) == 0 {
		return expect{}
	}
	return f.pending[0]
}

// Backend takes a whole message from the server and returns what to send
// the client instead: the message itself, a rewritten DataRow, nothing
// (the rest of a refused result), or an ErrorResponse (before the
// ReadyForQuery of a refused Parse's Sync).
func (f *Filter) Backend(typ byte, body []byte) []Message {
	t, b := f.backend(typ, body)
	if t == 0 {
		return nil
	}
	if t == 'Z' {
		f.mu.Lock()
		why := f.lastRefused
		f.lastRefused = ""
		if f.ddl && len(b) == 1 && b[0] == 'I' {
			// The transaction that changed the schema ended: what others
			// resolved meanwhile may be stale.
			f.ddl = false
			f.SchemaChanged()
		}
		f.mu.Unlock()
		if why != "" {
			return []Message{{'E', errorResponse(why)}, {t, b}}
		}
	}
	return []Message{{t, b}}
}

func (f *Filter) backend(typ byte, body []byte) (byte, []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.head()
	switch typ {
	case 'T':
		fields := f.describe(body)
		switch {
		case h.kind == 'D' && h.sub == 'S':
			f.stmts[h.name] = fields
			f.pop()
		case h.kind == 'D':
			p := f.portals[h.name]
			p.fields = fields
			f.portals[h.name] = p
			f.pop()
		default:
			f.current = fields
		}
	case 'n':
		f.pop()
	case '1', '2', '3':
		f.pop()
	case 'D':
		if f.refusing {
			return 0, nil
		}
		fields := f.current
		if h.kind == 'E' {
			fields = f.portalFields(h.name)
		}
		out, refuse := f.row(body, fields)
		if refuse != "" {
			f.refusing = true
			return 'E', errorResponse(refuse)
		}
		return typ, out
	case 'H':
		if f.m.Empty() {
			break
		}
		f.refusing = true
		return 'E', errorResponse("COPY TO STDOUT is refused on this role: its results are masked, and a copy's rows are not read by the masking; use SELECT")
	case 'd', 'c':
		if f.refusing {
			return 0, nil
		}
	case 'I':
		if h.kind == 'Q' && h.refused != "" {
			return 'E', errorResponse(h.refused)
		}
		fallthrough
	case 'C', 's':
		refused := f.refusing
		f.refusing = false
		if h.kind == 'E' {
			f.pop()
		} else {
			f.current = nil
		}
		if refused {
			return 0, nil
		}
	case 'E':
		f.refusing = false
		if h.kind != 'Q' {
			// The server skips the rest up to the next Sync.
			for len(f.pending) > 0 && f.head().kind != 'S' {
				f.pop()
			}
		}
	case 'Z':
		f.current = nil
		if h.kind == 'S' || h.kind == 'Q' {
			if h.kind == 'S' && h.refused != "" {
				f.lastRefused = h.refused
			}
			f.pop()
		}
	}
	return typ, body
}

// portalFields is the description in effect for an Execute of name: its
// own Describe's, or its statement's with the formats Bind asked for.
func (f *Filter) portalFields(name string) []field {
	p := f.portals[name]
	if p.fields != nil {
		return p.fields
	}
	base := f.stmts[p.stmt]
	fields := make([]field, len(base))
	copy(fields, base)
	for i := range fields {
		switch {
		case len(p.formats) == 1:
			fields[i].format = p.formats[0]
		case i < len(p.formats):
			fields[i].format = p.formats[i]
		default:
			fields[i].format = 0
		}
	}
	return fields
}

// unresolved masks the values of a column the filter could not name.
var unresolved = Rule{ID: "unresolved", Style: Redact}

// describe reads a RowDescription and resolves the masked columns.
func (f *Filter) describe(body []byte) []field {
	r := reader{b: body}
	n := int(r.int16())
	fields := make([]field, 0, n)
	for range n {
		r.cstring()
		fl := field{table: r.uint32(), attnum: r.int16(), typ: r.uint32()}
		r.int16() // typlen
		r.int32() // typmod
		fl.format = r.int16()
		if fl.table != 0 && f.m.HasColumnRules() && f.resolve != nil {
			if c, ok := f.resolve(fl.table, fl.attnum); ok {
				fl.rule = f.m.ForColumn(c)
			} else {
				// A column that cannot be named might be one a rule
				// masks: it is redacted rather than shown.
				fl.rule = &unresolved
			}
		}
		fields = append(fields, fl)
	}
	return fields
}

// textLike are the types whose binary form is their text (jsonb's after a
// version byte).
var textLike = map[uint32]bool{25: true, 1043: true, 1042: true, 19: true, 114: true, 705: true, 3802: true}

// row masks a DataRow's fields, or says why the row must be refused. A row
// nothing can match passes as it is; a row is copied only from its first
// masked field on.
func (f *Filter) row(body []byte, fields []field) ([]byte, string) {
	if len(f.m.detectors) == 0 && !slices.ContainsFunc(fields, func(fl field) bool { return fl.rule != nil }) {
		return body, ""
	}
	r := reader{b: body}
	n := int(r.int16())
	var out []byte // nil until a field changes
	for i := range n {
		start := r.i
		size := r.int32()
		if size < 0 {
			if out != nil {
				out = binary.BigEndian.AppendUint32(out, uint32(size))
			}
			continue
		}
		v := r.bytes(int(size))
		var fl field
		if i < len(fields) {
			fl = fields[i]
		}
		masked, fired, refuse := f.value(v, fl)
		if refuse != "" {
			return nil, refuse
		}
		if fired == nil {
			if out != nil {
				out = append(out, body[start:r.i]...)
			}
			continue
		}
		for _, id := range fired {
			f.fired[id]++
		}
		if out == nil {
			out = append(make([]byte, 0, len(body)+16), body[:start]...)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(masked)))
		out = append(out, masked...)
	}
	if out == nil {
		return body, ""
	}
	return out, ""
}

func (f *Filter) value(v []byte, fl field) ([]byte, []string, string) {
	if fl.format == 0 {
		masked, fired := f.m.Value(v, fl.rule)
		return masked, fired, ""
	}
	if !textLike[fl.typ] {
		if fl.rule != nil {
			return nil, nil, fmt.Sprintf("a masked column was asked for in binary format (type oid %d): ask for text format, or leave the column out", fl.typ)
		}
		return v, nil, ""
	}
	if fl.typ == 3802 && len(v) > 0 { // jsonb: a version byte, then text
		masked, fired := f.m.Value(v[1:], fl.rule)
		if fired == nil {
			return v, nil, ""
		}
		return append([]byte{v[0]}, masked...), fired, ""
	}
	masked, fired := f.m.Value(v, fl.rule)
	return masked, fired, ""
}
