package mask

import (
	"fmt"
	"maps"
	"slices"
	"strings"
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
	// the role's guardrails. settled tells it that the session reads
	// statements as the guard's parser does and nothing sent before is
	// still running (guard.Policy.Check). A refused simple query is sent
	// on as an empty one and its answer replaced by the refusal; a refused
	// Parse, and the rest up to Sync, are held back and the Sync's answer
	// preceded by the refusal, as PostgreSQL answers an error there.
	Guard func(sql string, settled bool) string
	// SchemaChanged, when set, is called when the client sends a statement
	// that may change tables or columns (guard.ChangesSchema), and again
	// when the transaction it ran in ends: the resolver forgets the column
	// names it knows, so a renamed column's rule follows it at once.
	SchemaChanged func()
	// Checker reads statements for SchemaChanged: the server's, shared by
	// its connections, so a statement seen before is not parsed again; nil
	// reads each afresh.
	Checker *guard.Checker
	// unresolved masks the values of a column the filter could not name.
	unresolved Rule
	// ddl marks a transaction that sent such a statement.
	ddl bool
	// skipping holds back the client's messages until Sync after a refused
	// Parse, with why.
	skipping string
	blocked  []string

	mu      sync.Mutex
	pending []expect
	stmts   map[string]statement
	// gens numbers Parse and Bind messages.
	gens    int
	portals map[string]portal
	current []field // the simple query's result in progress
	// refusing drops the rest of a result after it was refused, until its
	// end (CommandComplete, PortalSuspended, or a COPY's end).
	refusing bool
	fired    map[string]int
	// lastRefused is the refusal to send before the next ReadyForQuery.
	lastRefused string
	// params are the settings the server reported (ParameterStatus), from
	// the connection's start (Start) on.
	params map[string]string
}

type expect struct {
	kind byte // the frontend message: P, B, D (describe S/P), E, S, C, Q
	sub  byte // describe's S or P
	name string
	// refused is why stile refused the statement this answer is for.
	refused string
	// injected marks a Describe the filter sent itself (the client's
	// Execute came with none): its answer is kept, not passed on.
	injected bool
	// gen is the Parse or Bind a Describe's answer is for: an answer for
	// a statement or portal replaced since is not kept.
	gen int
}

// Message is one protocol message.
type Message struct {
	Type byte
	Body []byte
}

// NewFilter masks with m, resolving columns with resolve (nil: column
// rules never match, detectors still run).
func NewFilter(m *Masker, resolve func(table uint32, attnum int16) (Column, bool)) *Filter {
	return &Filter{m: m, resolve: resolve, unresolved: Rule{ID: "unresolved", Style: Redact}, stmts: map[string]statement{}, portals: map[string]portal{}, fired: map[string]int{}}
}

// Start gives the filter the settings the server reported when the
// connection started (until it is called, statements whose reading depends
// on them are refused on a guarded role), and returns them as the client
// may see them: through the detectors (a setting a role may give itself
// with ALTER ROLE … SET can carry any value).
func (f *Filter) Start(params map[string]string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.params = maps.Clone(params)
	if f.params == nil {
		f.params = map[string]string{}
	}
	out := make(map[string]string, len(params))
	for k, v := range params {
		masked, fired := f.m.Value([]byte(v), nil)
		f.count(fired)
		out[k] = string(masked)
	}
	return out
}

// settled reports whether the session reads statements as the guard's
// parser does (standard_conforming_strings on, client_encoding UTF8) and
// nothing sent before is still running, which could change that.
func (f *Filter) settled() bool {
	enc := strings.ToUpper(f.params["client_encoding"])
	return f.params["standard_conforming_strings"] == "on" && (enc == "UTF8" || enc == "UNICODE") &&
		len(f.pending) == 0 && f.skipping == ""
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
// the server instead: the message, others before it (a Describe the client
// left out), another (an empty query for a refused one), or nothing (held
// back after a refused Parse).
func (f *Filter) Frontend(typ byte, body []byte) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := reader{b: body}
	if f.skipping != "" {
		if typ != 'S' {
			return nil
		}
		f.pending = append(f.pending, expect{kind: 'S', refused: f.skipping})
		f.skipping = ""
		return []Message{{typ, body}}
	}
	switch typ {
	case 'Q':
		if f.Guard != nil || f.SchemaChanged != nil {
			sql := r.cstring()
			f.schema(sql)
			if why := f.guard(sql); why != "" {
				f.refuse(why, sql)
				f.pending = append(f.pending, expect{kind: 'Q', refused: why})
				return []Message{{'Q', []byte{0}}}
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
				return nil
			}
		}
		f.gens++
		f.stmts[name] = statement{gen: f.gens}
		f.pending = append(f.pending, expect{kind: 'P'})
	case 'B':
		f.gens++
		p := portal{gen: f.gens, bound: true}
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
		sub, name := r.byte(), r.cstring()
		gen := f.portals[name].gen
		if sub == 'S' {
			gen = f.stmts[name].gen
		}
		f.pending = append(f.pending, expect{kind: 'D', sub: sub, name: name, gen: gen})
	case 'E':
		name := r.cstring()
		var out []Message
		if !f.m.Empty() && !f.described(name) {
			// The client executes a portal it never had described (a
			// driver's statement cache, or a cursor by name): the filter
			// asks itself, so every result it passes has named columns
			// and formats.
			if p := f.portals[name]; !p.bound {
				f.gens++
				f.portals[name] = portal{gen: f.gens}
			}
			f.pending = append(f.pending, expect{kind: 'D', sub: 'P', name: name, injected: true, gen: f.portals[name].gen})
			out = append(out, Message{'D', append(append([]byte{'P'}, name...), 0)})
		}
		f.pending = append(f.pending, expect{kind: 'E', name: name})
		return append(out, Message{typ, body})
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
	case 'F':
		// A fastpath call's arguments and result are values the filter
		// cannot read (psql's \lo_export is one): refused, answered as an
		// empty query's refusal.
		why := "fastpath function calls are refused on a role with masking rules or guardrails: stile cannot read what they return or run; call the function in a query"
		f.refuse(why, fmt.Sprintf("fastpath function call (function oid %d)", r.uint32()))
		f.pending = append(f.pending, expect{kind: 'Q', refused: why})
		return []Message{{'Q', []byte{0}}}
	}
	return []Message{{typ, body}}
}

// guard is Guard's answer, "" when there is none.
func (f *Filter) guard(sql string) string {
	if f.Guard == nil {
		return ""
	}
	return f.Guard(sql, f.settled())
}

// schema calls SchemaChanged when sql may change the schema.
func (f *Filter) schema(sql string) {
	if f.SchemaChanged != nil && f.Checker.ChangesSchema(sql) {
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
		case h.kind == 'D':
			f.answer(h, fields)
			f.pop()
			if h.injected {
				return 0, nil
			}
		default:
			f.current = fields
		}
	case 'n':
		if h.kind == 'D' {
			f.answer(h, nil)
		}
		f.pop()
		if h.injected {
			return 0, nil
		}
	case 't':
		// A statement's parameters; its row description follows.
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
	case 'H', 'W':
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
		return typ, f.fields(body)
	case 'N':
		return typ, f.fields(body)
	case 'S':
		return typ, f.parameter(body)
	case 'A':
		return typ, f.notification(body)
	case 'Z':
		f.current = nil
		if h.kind == 'S' || h.kind == 'Q' {
			if h.kind == 'S' && h.refused != "" {
				f.lastRefused = h.refused
			}
			f.pop()
		}
	case 'G', 'K', 'R', 'v':
		// A COPY FROM's start (its data flows to the server), and startup
		// messages: nothing in them comes from a table.
	default:
		// A function call's result ('V': the filter refuses the calls),
		// or a message this filter does not know: what it cannot read, it
		// does not pass on a masked or guarded connection.
		return 'N', noticeResponse(fmt.Sprintf("stile withheld a protocol message of type %q it cannot filter", typ))
	}
	return typ, body
}
