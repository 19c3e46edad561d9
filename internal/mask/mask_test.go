package mask

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestDetectors(t *testing.T) {
	rules := []Rule{
		{ID: "e", Detector: "email", Style: Partial}, {ID: "c", Detector: "card", Style: Partial},
		{ID: "i", Detector: "iban", Style: Redact}, {ID: "p", Detector: "phone", Style: Partial},
		{ID: "4", Detector: "ipv4", Style: Redact}, {ID: "6", Detector: "ipv6", Style: Redact},
		{ID: "j", Detector: "jwt", Style: Redact}, {ID: "x", Detector: "regex", Regex: `EMP-\d{5}`, Style: Hash},
	}
	m, err := New(rules, []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ in, want, fired string }{
		{"jane.doe@example.com", "j*******@e******.com", "e"},
		{"contact: Jane <jane@mail.example.co.uk>", "contact: Jane <j***@m***.e******.c*.uk>", "e"},
		{"4111 1111 1111 1111", "**** **** **** 1111", "c"},
		{"4111-1111-1111-1112", "4111-1111-1111-1112", ""}, // fails Luhn: not a card
		{"order 123456789012345", "order 123456789012345", ""},
		{"GB82 WEST 1234 5698 7654 32", "****", "i"},
		{"GB82WEST12345698765433", "GB82WEST12345698765433", ""}, // fails mod 97
		{"call +44 20 7946 0958", "call +** ** **** **58", "p"},
		{"id 20240117", "id 20240117", ""}, // a bare number is no phone
		{"from 192.168.10.4:5432", "from ****:5432", "4"},
		{"999.1.1.1", "999.1.1.1", ""},
		{"peer 2001:db8::8a2e:370:7334 up", "peer **** up", "6"},
		{"at 12:30:00", "at 12:30:00", ""},
		{"Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "Authorization: ****", "j"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "****", "j"},
		{"EMP-00042", "h:", "x"},
		{"nothing to see", "nothing to see", ""},
	} {
		got, fired := m.Value([]byte(tt.in), nil)
		if !strings.HasPrefix(string(got), tt.want) || strings.Join(fired, ",") != tt.fired {
			t.Errorf("%q: %q (fired %v), want %q (fired %q)", tt.in, got, fired, tt.want, tt.fired)
		}
	}
	// A card among other digits is no match as a whole; its groups are
	// tried.
	if got, fired := m.Value([]byte("123-45-6789 4111 1111 1111 1111 22"), nil); strings.Contains(string(got), "4111 1111 1111 1111") || !strings.Contains(strings.Join(fired, ","), "c") {
		t.Errorf("digits around a card: %q (fired %v)", got, fired)
	}
	// Hashes are stable and keyed.
	a, _ := m.Value([]byte("EMP-00042"), nil)
	b, _ := m.Value([]byte("EMP-00042"), nil)
	other, _ := New(rules, []byte("other key"))
	c, _ := other.Value([]byte("EMP-00042"), nil)
	if string(a) != string(b) || string(a) == string(c) || len(a) != len("h:")+16 {
		t.Errorf("hashes %q %q %q", a, b, c)
	}
}

func TestColumnRules(t *testing.T) {
	m, err := New([]Rule{{ID: "pii", Column: "shop.public.customers.*", Style: Redact}, {ID: "mail", Column: "*.*.*.email", Style: Partial}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		c    Column
		want string
	}{
		{Column{"shop", "public", "customers", "name"}, "pii"},
		{Column{"shop", "sales", "leads", "email"}, "mail"},
		{Column{"shop", "public", "orders", "total"}, ""},
		{Column{"shop2", "public", "customers", "name"}, ""},
	} {
		r := m.ForColumn(tt.c)
		if (r == nil && tt.want != "") || (r != nil && r.ID != tt.want) {
			t.Errorf("%s: rule %v, want %q", tt.c, r, tt.want)
		}
	}
	got, fired := m.Value([]byte("Ada Lovelace"), m.ForColumn(Column{"shop", "public", "customers", "name"}))
	if string(got) != "****" || fired[0] != "pii" {
		t.Errorf("a masked column: %q %v", got, fired)
	}
	// Partial keeps a column value's shape: an email, a number's last four.
	mail := m.ForColumn(Column{"shop", "sales", "leads", "email"})
	for in, want := range map[string]string{"ada@example.com": "a**@e******.com", "DE89 3704 0044 0532 0130 00": "D*************************0", "0044 0532 0130": "**** **** 0130", "Ada": "A*a"} {
		if got, _ := m.Value([]byte(in), mail); string(got) != want {
			t.Errorf("partial %q: %q, want %q", in, got, want)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	for _, tt := range []struct {
		r    Rule
		want string
	}{
		{Rule{Style: Redact}, "either a column"},
		{Rule{Column: "a.b.c.d", Detector: "email", Style: Redact}, "either a column"},
		{Rule{Column: "a.b.c", Style: Redact}, "not database.schema.table.column"},
		{Rule{Column: "a.b.[.d", Style: Redact}, "not a name or a pattern"},
		{Rule{Detector: "ssn", Style: Redact}, "not one of"},
		{Rule{Detector: "regex", Style: Redact}, "needs --regex"},
		{Rule{Detector: "regex", Regex: "(", Style: Redact}, "regex"},
		{Rule{Detector: "email", Style: "blur"}, "not redact, partial or hash"},
		{Rule{Detector: "email", Regex: "x", Style: Redact}, "goes with the regex detector"},
	} {
		if err := tt.r.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.r, err, tt.want)
		}
	}
}

// TestUnresolvedColumnIsRedacted: a column the filter cannot name (its
// agent or the admin connection failed) might be one a rule masks, so its
// values are redacted rather than shown; a table-less value is not.
func TestUnresolvedColumnIsRedacted(t *testing.T) {
	m, err := New([]Rule{{ID: "c", Column: "*.*.*.email", Style: Partial}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, func(uint32, int16) (Column, bool) { return Column{}, false })
	desc := []byte{0, 2}
	for i, table := range []uint32{16384, 0} {
		desc = append(desc, 'c', byte('0'+i), 0)
		desc = binary.BigEndian.AppendUint32(desc, table)
		desc = binary.BigEndian.AppendUint16(desc, uint16(i+1))
		desc = binary.BigEndian.AppendUint32(desc, 25)
		desc = append(desc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0)
	}
	row := []byte{0, 2}
	for _, v := range []string{"ada@example.com", "plain"} {
		row = binary.BigEndian.AppendUint32(row, uint32(len(v)))
		row = append(row, v...)
	}
	f.Frontend('Q', []byte("SELECT email, 'plain' FROM t\x00"))
	f.Backend('T', desc)
	out := f.Backend('D', row)
	if len(out) != 1 || strings.Contains(string(out[0].Body), "ada@") || !strings.Contains(string(out[0].Body), "****") || !strings.Contains(string(out[0].Body), "plain") {
		t.Fatalf("row of an unresolved column: %+v", out)
	}
	if f.Fired()["unresolved"] != 1 {
		t.Errorf("fired = %v", f.Fired())
	}
}

// TestSchemaChanged: the filter reports a statement that may change the
// schema, simple or extended, and the end of its transaction; not a query.
func TestSchemaChanged(t *testing.T) {
	m, err := New([]Rule{{ID: "c", Column: "*.*.*.email", Style: Redact}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, nil)
	calls := 0
	f.SchemaChanged = func() { calls++ }
	f.Frontend('Q', []byte("SELECT 1\x00"))
	f.Backend('Z', []byte{'I'})
	if calls != 0 {
		t.Fatalf("a query: %d calls", calls)
	}
	f.Frontend('Q', []byte("BEGIN; ALTER TABLE t RENAME a TO email\x00"))
	f.Backend('Z', []byte{'T'})
	if calls != 1 {
		t.Fatalf("DDL in a transaction: %d calls, want 1", calls)
	}
	f.Frontend('P', []byte("\x00COMMIT\x00\x00\x00"))
	f.Backend('Z', []byte{'I'})
	f.Backend('Z', []byte{'I'})
	if calls != 2 {
		t.Fatalf("after the commit: %d calls, want 2", calls)
	}
}

// TestBinaryValues: a binary value is read by the detectors in its text
// form; one they would mask that its binary form cannot carry masked is
// refused, and a type they cannot read is refused.
func TestBinaryValues(t *testing.T) {
	m, err := New([]Rule{{ID: "c", Detector: "card", Style: Partial}, {ID: "4", Detector: "ipv4", Style: Redact}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, nil)
	int8 := binary.BigEndian.AppendUint64(nil, 4111111111111111)
	small := binary.BigEndian.AppendUint64(nil, 42)
	inet := []byte{2, 32, 0, 4, 10, 1, 2, 3}
	text := []byte("card 4111 1111 1111 1111")
	array := func(elem uint32, vals ...[]byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, 1)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, elem)
		b = binary.BigEndian.AppendUint32(b, uint32(len(vals)))
		b = binary.BigEndian.AppendUint32(b, 1)
		for _, v := range vals {
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
		return b
	}
	for _, tt := range []struct {
		name   string
		v      []byte
		typ    uint32
		refuse bool
		masked bool
	}{
		{"int8 card", int8, 20, true, false},
		{"int8", small, 20, false, false},
		{"inet", inet, 869, true, false},
		{"text[]", array(25, []byte("x"), text), 1009, false, true},
		{"int8[]", array(20, small, int8), 1016, true, false},
		{"enum", []byte("4111 1111 1111 1111"), 99999, true, false},
		{"bool", []byte{1}, 16, false, false},
	} {
		out, fired, refuse := f.binary(tt.v, tt.typ, nil, 0)
		if (refuse != "") != tt.refuse || (fired != nil) != tt.masked || tt.masked && strings.Contains(string(out), "4111 1111 1111 1111") {
			t.Errorf("%s: %q fired %v refuse %q", tt.name, out, fired, refuse)
		}
	}
}

// TestStartMasksSettings: the settings reported at the start go through
// the detectors before the client sees them; the filter keeps the raw ones
// for its guard.
func TestStartMasksSettings(t *testing.T) {
	m, err := New([]Rule{{ID: "e", Detector: "email", Style: Redact}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, nil)
	got := f.Start(map[string]string{"application_name": "ada@example.com", "standard_conforming_strings": "on", "client_encoding": "UTF8"})
	if got["application_name"] != "****" || got["client_encoding"] != "UTF8" || !f.settled() {
		t.Errorf("Start: %v, settled %v", got, f.settled())
	}
}

// TestCursorDescribedEachTime: a portal no Bind made (a SQL cursor, which
// can be closed and declared again unseen) gets a Describe of the filter's
// own before each Execute, whose answer names its rows' columns; a bound
// portal gets one until its description is known.
func TestCursorDescribedEachTime(t *testing.T) {
	m, err := New([]Rule{{ID: "s", Column: "db.public.t.secret", Style: Redact}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, func(table uint32, attnum int16) (Column, bool) {
		return Column{Database: "db", Schema: "public", Table: "t", Name: "secret"}, table == 1 && attnum == 1
	})
	// One text column from table 1, attribute 1.
	desc := []byte{0, 1, 'x', 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}
	row := []byte{0, 1, 0, 0, 0, 6, 'h', 'u', 's', 'h', 'e', 'd'}
	for i := range 2 {
		out := f.Frontend('E', []byte("cur\x00\x00\x00\x00\x00"))
		if len(out) != 2 || out[0].Type != 'D' {
			t.Fatalf("execute %d of a cursor: %q", i, out)
		}
		f.Frontend('S', nil)
		if got := f.Backend('T', desc); got != nil {
			t.Errorf("the filter's own Describe was answered to the client: %q", got)
		}
		if got := f.Backend('D', row); strings.Contains(string(got[0].Body), "hushed") {
			t.Errorf("execute %d of a cursor: the column's value passed: %q", i, got)
		}
		f.Backend('C', []byte("FETCH 1\x00"))
		f.Backend('Z', []byte{'T'})
	}
	f.Frontend('B', []byte("p\x00\x00\x00\x00\x00\x00\x00\x00"))
	if out := f.Frontend('E', []byte("p\x00\x00\x00\x00\x00")); len(out) != 2 {
		t.Errorf("a bound portal never described: %q", out)
	}
}

// TestRowWithoutDescription: on a masked role, a row the filter has no
// description for (a statement described as returning no rows, which
// does) is refused, not passed.
func TestRowWithoutDescription(t *testing.T) {
	m, err := New([]Rule{{ID: "s", Column: "*.*.*.secret", Style: Redact}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := NewFilter(m, nil)
	f.Frontend('P', []byte("\x00FETCH ALL c\x00\x00\x00"))
	f.Frontend('D', []byte("S\x00"))
	f.Frontend('B', []byte("\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Frontend('E', []byte("\x00\x00\x00\x00\x00"))
	f.Frontend('S', nil)
	f.Backend('1', nil)
	f.Backend('t', []byte{0, 0})
	f.Backend('n', nil) // the statement: no rows
	f.Backend('2', nil)
	f.Backend('n', nil) // the portal, described by the filter: no rows
	got := f.Backend('D', []byte{0, 1, 0, 0, 0, 6, 'h', 'u', 's', 'h', 'e', 'd'})
	if len(got) != 1 || got[0].Type != 'E' {
		t.Errorf("a row with no description: %q", got)
	}
}
