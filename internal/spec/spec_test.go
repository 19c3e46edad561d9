package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/errs"
)

func TestSpecParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    Scope
		canon   string
		wantErr string
	}{
		{in: "app", want: Scope{Database: "app"}, canon: "app"},
		{in: "app.public", want: Scope{Database: "app", Schema: "public"}, canon: "app.public"},
		{in: ` app . public `, want: Scope{Database: "app", Schema: "public"}, canon: "app.public"},
		{in: `"my.db".public`, want: Scope{Database: "my.db", Schema: "public"}, canon: `"my.db".public`},
		{in: `"we""ird".s`, want: Scope{Database: `we"ird`, Schema: "s"}, canon: `"we""ird".s`},
		{in: `"dbname=x host=y"`, want: Scope{Database: "dbname=x host=y"}, canon: "dbname=x host=y"},
		{in: "app!audit", want: Scope{Database: "app", Exclude: []string{"audit"}}, canon: "app!audit"},
		{in: `app!audit!"x.y"`, want: Scope{Database: "app", Exclude: []string{"audit", "x.y"}}, canon: `app!audit!"x.y"`},
		{in: `"a!b".s`, want: Scope{Database: "a!b", Schema: "s"}, canon: `"a!b".s`},
		{in: "a.b.c", wantErr: "not database, database.schema"},
		{in: "a.b!c", wantErr: "not database, database.schema"},
		{in: "a.", wantErr: "empty name"},
		{in: ".b", wantErr: "empty name"},
		{in: `"open`, wantErr: "unterminated"},
		{in: `a"b".c`, wantErr: "quote in the middle"},
		{in: `"a"b.c`, wantErr: "after a closing quote"},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errs.CodeOf(err) != errs.Invalid {
				t.Errorf("ParseScope(%q) = %v, %v; want invalid %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) || got.String() != tt.canon {
			t.Errorf("ParseScope(%q) = %+v (%s), %v; want %+v (%s)", tt.in, got, got.String(), err, tt.want, tt.canon)
		}
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"a", "a.b", `"a.b".c`, `"x""y"`, "a..b", `""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			return
		}
		back, err := ParseScope(sc.String())
		if err != nil || !reflect.DeepEqual(back, sc) {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, sc, sc.String(), back, err)
		}
	})
}

func TestSpecNormalizePrivileges(t *testing.T) {
	got, err := NormalizePrivileges([]string{" insert", "select", "SELECT", "all", "Execute", ""})
	if err != nil || strings.Join(got, ",") != "SELECT,INSERT,EXECUTE,ALL" {
		t.Errorf("NormalizePrivileges = %v, %v", got, err)
	}
	if _, err := NormalizePrivileges([]string{"SELECT", "FLY"}); err == nil || !strings.Contains(err.Error(), `"FLY"`) {
		t.Errorf("unknown privilege: %v", err)
	}
	if _, err := NormalizePrivileges([]string{"USAGE"}); err == nil {
		t.Error("USAGE is implied, not requested: want an error")
	}
}

func TestSpecRoleNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      Role
		wantErr string
	}{
		{"managed", Role{Resource: "a", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"select"}}, ""},
		{"default type is managed", Role{Resource: "a", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, ""},
		{"external", Role{Resource: "a", Type: "EXTERNAL", Label: "ro", SourceRole: "pg_read_all_data"}, ""},
		{"quotes and semicolons are legal names", Role{Resource: `we"ird;x`, Label: `r;o"`, Scopes: []string{`"d;b"`}, Privileges: []string{"SELECT"}}, ""},
		{"bad type", Role{Resource: "a", Type: "magic", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "not managed, external or group"},
		{"group", Role{Resource: "a", Type: "Group", Label: "readers", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, ""},
		{"member only", Role{Resource: "a", Label: "ro", MemberOf: []string{"readers", " readers"}}, ""},
		{"adopted", Role{Resource: "a", Label: "ro", Name: "app_ro", Adopt: true, Replication: true, Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, ""},
		{"group of groups", Role{Resource: "a", Type: "group", Label: "g", Scopes: []string{"db"}, Privileges: []string{"SELECT"}, MemberOf: []string{"h"}}, "groups of groups"},
		{"group password", Role{Resource: "a", Type: "group", Label: "g", Scopes: []string{"db"}, Privileges: []string{"SELECT"}, RotatePassword: true}, "no password"},
		{"member of itself", Role{Resource: "a", Label: "ro", MemberOf: []string{"RO"}}, "member of itself"},
		{"adopt without name", Role{Resource: "a", Label: "ro", Adopt: true, Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "needs the role_name"},
		{"replication not adopted", Role{Resource: "a", Label: "ro", Name: "x", Replication: true, Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "only kept on an adopted role"},
		{"reserved name", Role{Resource: "a", Label: "ro", Name: "pg_monitor", Adopt: true, Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "reserved"},
		{"privileges without scope", Role{Resource: "a", Label: "ro", MemberOf: []string{"g"}, Privileges: []string{"SELECT"}}, "no scope"},
		{"external member", Role{Resource: "a", Type: "external", Label: "ro", SourceRole: "x", MemberOf: []string{"g"}}, "member_of"},
		{"empty resource", Role{Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "resource_name is empty"},
		{"empty label", Role{Resource: "a", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "label is empty"},
		{"label without letters", Role{Resource: "a", Label: "..", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}, "no letters or digits"},
		{"managed without scopes", Role{Resource: "a", Label: "ro", Privileges: []string{"SELECT"}}, "at least one scope"},
		{"managed without privileges", Role{Resource: "a", Label: "ro", Scopes: []string{"db"}}, "at least one privilege"},
		{"managed with source", Role{Resource: "a", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}, SourceRole: "x"}, "only for external"},
		{"external without source", Role{Resource: "a", Type: "external", Label: "ro"}, "needs a source_role"},
		{"external with scopes", Role{Resource: "a", Type: "external", Label: "ro", SourceRole: "x", Scopes: []string{"db"}}, "takes no scopes"},
		{"unknown privilege", Role{Resource: "a", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELEKT"}}, "unknown privilege"},
		{"bad scope", Role{Resource: "a", Label: "ro", Scopes: []string{"a.b.c"}, Privileges: []string{"SELECT"}}, "double-quote names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Normalize()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Normalize: %v", err)
				}
				if got.Type != Managed && got.Type != External && got.Type != Group {
					t.Errorf("type = %q", got.Type)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("Normalize = %v, want invalid %q", err, tt.wantErr)
			}
		})
	}
}

func TestSpecValidateBatch(t *testing.T) {
	ro := Role{Resource: "a", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}
	if _, err := ValidateBatch([]Role{ro, {Resource: "b", Label: "ro", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}}); err != nil {
		t.Fatalf("one label on two resources: %v", err)
	}
	for _, tt := range []struct {
		name  string
		items []Role
		want  []string
	}{
		{"duplicate", []Role{ro, ro}, []string{"item 2", "duplicates item 1"}},
		{"slug alike", []Role{ro, {Resource: "a", Label: "R.O", Scopes: []string{"db"}, Privileges: []string{"SELECT"}}}, []string{"item 2", "conflicts with item 1"}},
		{"conflicting definition", []Role{ro, {Resource: "a", Label: "ro", Scopes: []string{"db2"}, Privileges: []string{"SELECT"}}}, []string{"conflicts with"}},
		{"every problem at once", []Role{{Resource: "a"}, ro, {Resource: "a", Label: "ro", Type: "x"}}, []string{"item 1", "item 3"}},
		{"empty", nil, []string{"no items"}},
	} {
		_, err := ValidateBatch(tt.items)
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %q", tt.name, err, w)
			}
		}
	}
}

func TestSpecResourcesCSV(t *testing.T) {
	rows, err := ParseResourcesCSV([]byte("name,type,host,port\nanalytics,PostgreSQL,192.168.18.54,5432\nmarketplace,PostgreSQL,192.168.18.54,5432\n"))
	if err != nil || len(rows) != 2 {
		t.Fatalf("reference CSV: %v %v", rows, err)
	}
	if r := rows[0].Resource; r.Type != "postgres" || r.Database != "postgres" || r.SSLMode != "prefer" || r.Port != 5432 || rows[0].Line != 2 {
		t.Errorf("defaults: %+v", rows[0])
	}
	rows, err = ParseResourcesCSV([]byte("NAME,Type,host,port,database,sslmode\n" +
		"ok,postgres,h,5432,app,require\n" +
		"badport,postgres,h,x,,\n" +
		",postgres,h,1,,\n" +
		"badtype,mysql,h,1,,\n" +
		"badssl,postgres,h,1,,sometimes\n" +
		"ok,postgres,h2,1,,\n" +
		"range,postgres,h,70000,,\n" +
		"sp,postgres,h h,1,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []string{"", "not a number", "name is empty", "not supported", "sslmode", "repeats line 2", "out of range", "not a host"}
	for i, w := range wantErr {
		if got := rows[i].Error; (w == "") != (got == "") || !strings.Contains(got, w) {
			t.Errorf("row %d error = %q, want %q", i, got, w)
		}
	}
	for _, bad := range []struct{ csv, want string }{
		{"", "empty"},
		{"name,type,host\nx,postgres,h\n", `missing column "port"`},
		{"name,type,host,port,color\n", `unknown column "color"`},
		{"name,type,host,port\n", "no rows"},
		{"name,type,host,port\n\"x,postgres,h,1\n", "CSV"},
		{"name,type,host,port\nx,postgres,h\n", "wrong number of fields"},
		{"name,name,type,host,port\n", "appears twice"},
	} {
		if _, err := ParseResourcesCSV([]byte(bad.csv)); err == nil || !strings.Contains(err.Error(), bad.want) || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("ParseResourcesCSV(%q) = %v, want %q", bad.csv, err, bad.want)
		}
	}
}

func TestSpecAdminsCSV(t *testing.T) {
	got, err := ParseAdminsCSV([]byte("name,admin_user,password\na,postgres,\"p;a\"\"ss\"\n"))
	if err != nil || len(got) != 1 || got[0].Password != `p;a"ss` {
		t.Fatalf("ParseAdminsCSV = %+v, %v", got, err)
	}
	if _, err := ParseAdminsCSV([]byte("name,admin_user,password\na,postgres,\n")); err == nil || !strings.Contains(err.Error(), "line 2: password is empty") {
		t.Errorf("empty password: %v", err)
	}
	if _, err := ParseAdminsCSV([]byte("name,admin_user\na,postgres\n")); err == nil {
		t.Error("missing password column accepted")
	}
}

func TestSpecPlanFile(t *testing.T) {
	yamlFile := `items:
  - resource_name: analytics
    type: managed
    role: ro
    scopes: [analytics.public, legacy, app]
    privileges: [SELECT]
  - resource_name: marketplace
    type: external
    role: ro
    source_role: pg_read_all_data
`
	csvFile := "resource_name,type,role,scopes,permissions,source_role\n" +
		"analytics,managed,ro,analytics.public;legacy;app,SELECT,\n" +
		"marketplace,external,ro,,,pg_read_all_data\n"
	a, err := ParsePlanFile("plan file", []byte(yamlFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParsePlanFile("plan file", []byte(csvFile))
	if err != nil {
		t.Fatal(err)
	}
	na, err := ValidateBatch(a)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := ValidateBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range na {
		if strings.Join(na[i].Scopes, "|") != strings.Join(nb[i].Scopes, "|") || na[i].SourceRole != nb[i].SourceRole || na[i].Type != nb[i].Type {
			t.Errorf("item %d: YAML %+v, CSV %+v", i, na[i], nb[i])
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"", "empty"},
		{"items: []\n", "no items"},
		{"items:\n  - resource_name: a\n    colour: red\n", "colour"},
		{"items: [\n", "plan file"},
		{"resource_name,type,role,bogus\n", "unknown column"},
	} {
		if _, err := ParsePlanFile("plan file", []byte(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ParsePlanFile(%q) = %v, want %q", bad.in, err, bad.want)
		}
	}
}

// TestPlanFileProblems: a plan file's problems name the file once, each
// problem once at the line it is on, suggest a key allowed where the
// unknown one stands (never the unknown name itself), say when the file is
// another kind, and refuse aliases that expand past a limit.
func TestPlanFileProblems(t *testing.T) {
	bomb := "items:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, name := range []string{"b", "c", "d", "e"} {
		prev := string(rune('a' + i))
		bomb += "  - &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
	}
	for _, c := range []struct{ name, in, want string }{
		{"typo", "items:\n  - resource_name: db\n    scope: [app]\n", `p.yaml line 3: unknown field "scope" (did you mean "scopes"?)`},
		{"top-level key", "roles:\n  - resource_name: db\n", `p.yaml line 1: unknown field "roles" (the only key here is "items")`},
		{"no suggestion of itself", "items:\n  - sid: x\n    resource_name: db\n", `p.yaml line 2: unknown field "sid" (the keys here: adopt, bypassrls, member_of, privileges, replication, resource_name, role, role_name, rotate_password, scopes, source_role, type)`},
		{"plan document", "sid: 986e35ce-f3fc-4f79-b136-512eada7b850\nconfig:\n  type: managed\n", `p.yaml looks like a plan document, not a plan file`},
		{"results file", "results:\n  - sid: x\n", `p.yaml looks like a results file, not a plan file`},
		{"alias lines", "items:\n  - &a [db, ro]\n  - *a\n", `p.yaml line 2: want a mapping (key: value), found a list; line 3: want a mapping (key: value), found a list`},
		{"one error once", "items: [&a [db], *a, *a, *a, *a, *a, *a, *a, *a]\n", `p.yaml line 1: want a mapping (key: value), found a list`},
		{"alias of a bad key", "items:\n  - &a {resource_name: db, colour: red}\n  - *a\n  - *a\n", `p.yaml line 2: unknown field "colour" (the keys here: adopt, bypassrls, member_of, privileges, replication, resource_name, role, role_name, rotate_password, scopes, source_role, type)`},
		{"alias bomb", bomb, `p.yaml line 5: YAML aliases (*c) make this file more than 10000 values: write the entries out`},
		{"csv", "resource_name,type,role,bogus\n", `p.csv: unknown column "bogus"`},
		{"empty", "", `p.yaml is empty`},
	} {
		file := "p.yaml"
		if c.name == "csv" {
			file = "p.csv"
		}
		_, err := ParsePlanFile(file, []byte(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || (c.name != "csv" && err.Error() != c.want) {
			t.Errorf("%s: %v\nwant %s", c.name, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "plan file:") || strings.Count(err.Error(), file) != 1) {
			t.Errorf("%s: %v names the file more than once", c.name, err)
		}
	}
	// Aliases within the limit are fine.
	items, err := ParsePlanFile("p.yaml", []byte("items:\n  - &ro {resource_name: a, role: ro, scopes: &s [app], privileges: [SELECT]}\n  - {resource_name: b, role: ro, scopes: *s, privileges: [SELECT]}\n"))
	if err != nil || len(items) != 2 || items[1].Scopes[0] != "app" {
		t.Fatalf("aliases: %+v, %v", items, err)
	}
}

func TestSpecSplitList(t *testing.T) {
	got := SplitList([]string{"a, b", `"x,y".s`, ""})
	if strings.Join(got, "|") != `a|b|"x,y".s` {
		t.Errorf("SplitList = %q", got)
	}
}

// TestScopeAsText: a typed scope travels as its canonical text, and bad
// text is refused when decoded.
func TestScopeAsText(t *testing.T) {
	in := []Scope{{Database: "app"}, {Database: "my.db", Schema: "public"}, {Database: "app", Exclude: []string{"audit", "tmp"}}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `["app","\"my.db\".public","app!audit!tmp"]`; string(data) != want {
		t.Fatalf("scopes as JSON: %s, want %s", data, want)
	}
	var out []Scope
	if err := json.Unmarshal(data, &out); err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`["a.b.c"]`), &out); !errs.Is(err, errs.Invalid) {
		t.Fatalf("an ambiguous scope decoded: %v", err)
	}
}
