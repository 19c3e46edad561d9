package mask

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
)

// Type OIDs the filter reads in binary format.
const (
	jsonbOID  = 3802
	recordOID = 2249
)

// textBinary are the types whose binary form is their text (or any bytes:
// bytea): a detector reads them, and a masked value is still one of them.
var textBinary = map[uint32]bool{
	25: true, 1043: true, 1042: true, 19: true, 114: true, 705: true, // text, varchar, bpchar, name, json, unknown
	142: true, 1790: true, 17: true, 18: true, // xml, refcursor, bytea, "char"
}

// TextInBinary reports whether a type's binary form is its text (or any
// bytes), so that a value of it reads the same in either format.
func TextInBinary(oid uint32) bool { return textBinary[oid] }

// dateLike are the types whose binary form is a date, time or span: no
// detector matches their text forms, so they pass.
var dateLike = map[uint32]bool{16: true, 1082: true, 1083: true, 1114: true, 1184: true, 1186: true, 1266: true} // bool too

// numeric are the types the filter renders as text to run the detectors
// (a card number fits in an int8; an address in an inet is what ipv4 and
// ipv6 find).
var numeric = map[uint32]bool{21: true, 23: true, 20: true, 26: true, 700: true, 701: true, 1700: true, 790: true, 2950: true, 869: true, 650: true}

// arrays are the array types (anyarray, as pg_stats sends, included): the
// binary form names its element type.
var arrays = map[uint32]bool{
	2277: true, 1009: true, 1015: true, 1014: true, 1003: true, 199: true, 3807: true, 143: true, 2211: true, 1001: true,
	1002: true, 1005: true, 1007: true, 1016: true, 1028: true, 1021: true, 1022: true, 1231: true, 791: true, 2951: true,
	1000: true, 1182: true, 1183: true, 1115: true, 1185: true, 1187: true, 1270: true, 2287: true, 1041: true, 651: true,
}

// maxDepth bounds arrays of records of arrays.
const maxDepth = 8

// binary masks a value of type typ in binary format with rule (nil: the
// detectors), or says why it must be refused: a type the detectors cannot
// read, or a value they would mask that its binary form cannot carry
// masked (a number).
func (f *Filter) binary(v []byte, typ uint32, rule *Rule, depth int) ([]byte, []string, string) {
	switch {
	case depth > maxDepth:
		return nil, nil, "a value nested too deep for the masking to read was asked for in binary format: ask for text format"
	case textBinary[typ]:
		masked, fired := f.m.Value(v, rule)
		return masked, fired, ""
	case typ == jsonbOID && len(v) > 0: // a version byte, then text
		masked, fired := f.m.Value(v[1:], rule)
		if fired == nil {
			return v, nil, ""
		}
		return append([]byte{v[0]}, masked...), fired, ""
	case dateLike[typ]:
		return v, nil, ""
	case numeric[typ]:
		text, ok := render(v, typ)
		if !ok {
			return nil, nil, fmt.Sprintf("a value of type oid %d in binary format could not be read by the masking: ask for text format", typ)
		}
		if _, fired := f.m.Value([]byte(text), nil); fired != nil {
			return nil, nil, fmt.Sprintf("a value in binary format (type oid %d) is one the masking masks, and its binary form cannot carry it masked: ask for text format", typ)
		}
		return v, nil, ""
	case arrays[typ]:
		return f.array(v, depth)
	case typ == recordOID:
		return f.record(v, depth)
	}
	return nil, nil, fmt.Sprintf("a value of type oid %d was asked for in binary format, which the masking cannot read: ask for text format", typ)
}

// array masks each element of an array in binary format: ndim, has-null
// flag, element type, (size, lower bound) per dimension, then each
// element's length (-1 for NULL) and bytes.
func (f *Filter) array(v []byte, depth int) ([]byte, []string, string) {
	r := reader{b: v}
	ndim := int(r.int32())
	r.int32()
	elem := r.uint32()
	if ndim < 0 || ndim > 6 {
		return nil, nil, "an array the masking cannot read was asked for in binary format: ask for text format"
	}
	n := 1
	if ndim == 0 {
		n = 0
	}
	for range ndim {
		size := int(r.int32())
		r.int32()
		if size < 0 || size > 1<<24 {
			return nil, nil, "an array the masking cannot read was asked for in binary format: ask for text format"
		}
		n *= size
	}
	return f.elements(v, r, n, func(*reader) uint32 { return elem }, depth)
}

// record masks each field of a record in binary format: the count, then
// each field's type, length (-1 for NULL) and bytes.
func (f *Filter) record(v []byte, depth int) ([]byte, []string, string) {
	r := reader{b: v}
	n := int(r.int32())
	return f.elements(v, r, n, func(r *reader) uint32 { return r.uint32() }, depth)
}

// elements masks n elements of v from r on, each preceded by its type
// (typ reads it) and length; the result is copied only when one changes.
func (f *Filter) elements(v []byte, r reader, n int, typ func(*reader) uint32, depth int) ([]byte, []string, string) {
	var out []byte
	var fired []string
	for range n {
		if r.i >= len(v) {
			return nil, nil, "a value the masking cannot read was asked for in binary format: ask for text format"
		}
		start := r.i
		t := typ(&r)
		head := r.i
		size := int(r.int32())
		if size < 0 {
			if out != nil {
				out = append(out, v[start:r.i]...)
			}
			continue
		}
		if r.i+size > len(v) {
			return nil, nil, "a value the masking cannot read was asked for in binary format: ask for text format"
		}
		e := r.bytes(size)
		masked, ids, refuse := f.binary(e, t, nil, depth+1)
		if refuse != "" {
			return nil, nil, refuse
		}
		if ids == nil {
			if out != nil {
				out = append(out, v[start:r.i]...)
			}
			continue
		}
		fired = append(fired, ids...)
		if out == nil {
			out = append(make([]byte, 0, len(v)+16), v[:start]...)
		}
		out = append(out, v[start:head]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(masked)))
		out = append(out, masked...)
	}
	if out == nil {
		return v, nil, ""
	}
	return append(out, v[r.i:]...), fired, ""
}

// render is a number's (or a uuid's) text from its binary form.
func render(v []byte, typ uint32) (string, bool) {
	switch typ {
	case 21:
		if len(v) == 2 {
			return strconv.Itoa(int(int16(binary.BigEndian.Uint16(v)))), true
		}
	case 23:
		if len(v) == 4 {
			return strconv.Itoa(int(int32(binary.BigEndian.Uint32(v)))), true
		}
	case 26:
		if len(v) == 4 {
			return strconv.FormatUint(uint64(binary.BigEndian.Uint32(v)), 10), true
		}
	case 20, 790: // int8, money (in cents)
		if len(v) == 8 {
			return strconv.FormatInt(int64(binary.BigEndian.Uint64(v)), 10), true
		}
	case 700:
		if len(v) == 4 {
			return strconv.FormatFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(v))), 'f', -1, 32), true
		}
	case 701:
		if len(v) == 8 {
			return strconv.FormatFloat(math.Float64frombits(binary.BigEndian.Uint64(v)), 'f', -1, 64), true
		}
	case 2950:
		if len(v) == 16 {
			h := hex.EncodeToString(v)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
		}
	case 1700:
		return renderNumeric(v)
	case 869, 650: // inet, cidr: family, bits, is_cidr, length, address
		if len(v) >= 4 && len(v) == 4+int(v[3]) && (v[3] == 4 || v[3] == 16) {
			return net.IP(v[4:]).String() + "/" + strconv.Itoa(int(v[1])), true
		}
	}
	return "", false
}

// renderNumeric is a numeric's text from its binary form: digit count,
// weight (of the first base-10000 digit), sign, display scale, digits.
func renderNumeric(v []byte) (string, bool) {
	r := reader{b: v}
	n, weight, sign := int(r.int16()), int(r.int16()), uint16(r.int16())
	r.int16()
	if n < 0 || len(v) != 8+2*n {
		return "", false
	}
	if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 {
		return "NaN", true
	}
	digit := func(i int) int {
		if i < 0 || i >= n {
			return 0
		}
		return int(binary.BigEndian.Uint16(v[8+2*i:]))
	}
	var b strings.Builder
	if sign == 0x4000 {
		b.WriteByte('-')
	}
	if weight < 0 {
		b.WriteByte('0')
	}
	for i := 0; i <= weight; i++ {
		if i == 0 {
			b.WriteString(strconv.Itoa(digit(i)))
		} else {
			fmt.Fprintf(&b, "%04d", digit(i))
		}
	}
	if n > weight+1 {
		b.WriteByte('.')
		for i := weight + 1; i < n; i++ {
			fmt.Fprintf(&b, "%04d", digit(i))
		}
	}
	return b.String(), true
}
