package mask

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// BenchmarkFilter is what masking costs the proxy per result: a 1,000-row
// × 10-column text result (RowDescription, DataRows, CommandComplete)
// through the filter with no rules that match, with column rules only (one
// column masked), and with every content detector reading every value.
func BenchmarkFilter(b *testing.B) {
	desc := []byte{0, 10}
	for i := range 10 {
		desc = append(desc, fmt.Sprintf("col%d", i)...)
		desc = append(desc, 0)
		desc = binary.BigEndian.AppendUint32(desc, 16384) // table OID
		desc = binary.BigEndian.AppendUint16(desc, uint16(i+1))
		desc = binary.BigEndian.AppendUint32(desc, 25) // text
		desc = append(desc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0)
	}
	rows := make([][]byte, 1000)
	for r := range rows {
		row := []byte{0, 10}
		for c := range 10 {
			v := fmt.Sprintf("value %d of row %d, ordinary text", c, r)
			if c == 3 {
				v = fmt.Sprintf("user%d@example.com", r)
			}
			row = binary.BigEndian.AppendUint32(row, uint32(len(v)))
			row = append(row, v...)
		}
		rows[r] = row
	}
	resolve := func(table uint32, attnum int16) (Column, bool) {
		return Column{"shop", "public", "t", fmt.Sprintf("col%d", attnum-1)}, true
	}
	for _, tt := range []struct {
		name  string
		rules []Rule
	}{
		{"no_rules", nil},
		{"rules_matching_nothing", []Rule{{ID: "c", Column: "shop.public.other.*", Style: Redact}}},
		{"column_rule", []Rule{{ID: "c", Column: "shop.public.t.col3", Style: Partial}}},
		{"all_detectors", []Rule{{ID: "e", Detector: "email", Style: Partial}, {ID: "c", Detector: "card", Style: Partial}, {ID: "i", Detector: "iban", Style: Redact},
			{ID: "p", Detector: "phone", Style: Redact}, {ID: "4", Detector: "ipv4", Style: Redact}, {ID: "6", Detector: "ipv6", Style: Redact}, {ID: "j", Detector: "jwt", Style: Redact}}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			m, err := New(tt.rules, []byte("k"))
			if err != nil {
				b.Fatal(err)
			}
			var bytes int64
			for _, r := range rows {
				bytes += int64(len(r))
			}
			b.SetBytes(bytes)
			for b.Loop() {
				f := NewFilter(m, resolve)
				f.Frontend('Q', []byte("SELECT * FROM t\x00"))
				f.Backend('T', desc)
				for _, r := range rows {
					f.Backend('D', r)
				}
				f.Backend('C', []byte("SELECT 1000\x00"))
				f.Backend('Z', []byte{'I'})
			}
		})
	}
}
