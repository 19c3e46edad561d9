package mask

// The filter's knowledge of results: the statements and portals the client
// made, the descriptions the server gave of them, and the result formats
// asked for, tied to the Parse or Bind each answer was for.

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
	// described: a Describe P was answered (NoData leaves fields nil).
	described bool
	// bound: a Bind made it. A portal no Bind made is a SQL cursor,
	// which statements the filter does not follow can close and declare
	// again: it is described afresh before each Execute.
	bound bool
	gen   int
}

// statement is a prepared statement's description.
type statement struct {
	fields    []field
	described bool
	gen       int
}

// described reports whether the result of an Execute of portal name will
// have a known description when its rows come: its own Describe's, or its
// statement's (asked for before the portal was bound, or answered).
func (f *Filter) described(name string) bool {
	p, ok := f.portals[name]
	if !ok || !p.bound {
		return false
	}
	if p.described {
		return true
	}
	st, stOK := f.stmts[p.stmt]
	if st.described {
		return true
	}
	for _, e := range f.pending {
		if e.kind == 'D' && (e.sub == 'P' && e.name == name && e.gen == p.gen || e.sub == 'S' && stOK && e.name == p.stmt && e.gen == st.gen) {
			return true // the client asked, and the answer comes first
		}
	}
	return false
}

// answer keeps a Describe's answer for its statement or portal, unless
// that was parsed or bound again since it was asked.
func (f *Filter) answer(h expect, fields []field) {
	if h.sub == 'S' {
		if st, ok := f.stmts[h.name]; ok && st.gen == h.gen {
			f.stmts[h.name] = statement{fields: fields, described: true, gen: h.gen}
		}
		return
	}
	if p, ok := f.portals[h.name]; ok && p.gen == h.gen {
		p.fields, p.described = fields, true
		f.portals[h.name] = p
	}
}

// portalFields is the description in effect for an Execute of name: its
// own Describe's, or its statement's with the formats Bind asked for.
func (f *Filter) portalFields(name string) []field {
	p := f.portals[name]
	if p.fields != nil {
		return p.fields
	}
	base := f.stmts[p.stmt].fields
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
				fl.rule = &f.unresolved
			}
		}
		fields = append(fields, fl)
	}
	return fields
}
