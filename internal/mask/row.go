package mask

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// row masks a DataRow's fields, or says why the row must be refused: a row
// with more values than the description the filter knows (it cannot tell
// their columns or formats) is, on a masked role. A row nothing can match
// passes as it is; a row is copied only from its first masked field on.
func (f *Filter) row(body []byte, fields []field) ([]byte, string) {
	if n := int((&reader{b: body}).int16()); n > len(fields) && !f.m.Empty() {
		return nil, "a result whose columns stile could not tell: the masking refuses what it cannot read"
	}
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
	if fl.rule != nil {
		if !textBinary[fl.typ] && fl.typ != jsonbOID {
			return nil, nil, fmt.Sprintf("a masked column was asked for in binary format (type oid %d): ask for text format, or leave the column out", fl.typ)
		}
		return f.binary(v, fl.typ, fl.rule, 0)
	}
	if len(f.m.detectors) == 0 {
		return v, nil, ""
	}
	return f.binary(v, fl.typ, nil, 0)
}
