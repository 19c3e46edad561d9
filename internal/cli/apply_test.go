package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestApplyParseResults: a results file is decoded strictly and checked as a
// whole; errors name the file, the line or entry, in words, not Go types.
func TestApplyParseResults(t *testing.T) {
	entry := func(sid, res, role, status string) string {
		return fmt.Sprintf("    - sid: %s\n      resource_name: %s\n      role: %s\n      role_name: stile_%s_%s\n      status: %s\n      message: \"\"\n", sid, res, role, res, role, status)
	}
	tests := []struct {
		name, file, want string
	}{
		{"plan -o output", "results:\n" + entry("s1", "a", "ro", "out-of-sync") + entry("s2", "a", "rw", "in-sync"), ""},
		{"empty", "", "results file r.yaml is empty"},
		{"no results", "results: []\n", "results file r.yaml has no results"},
		{"unknown field", "results:\n" + entry("s1", "a", "ro", "out-of-sync") + "      sql_plan: x\n",
			`results file r.yaml: line 8: unknown field "sql_plan" (the keys here: message, requires, resource_name, role, role_name, sid, status)`},
		{"unknown top-level field", "items:\n  - resource_name: a\n", `results file r.yaml: line 1: unknown field "items" (the only key here is "results")`},
		{"field twice", "results:\n" + entry("s1", "a", "ro", "out-of-sync") + "      sid: s2\n",
			`results file r.yaml: line 8: mapping key "sid" already defined at line 2`},
		{"not a list", "results: abc\n", `results file r.yaml: line 1: want a list, found text "abc"`},
		{"entry not a mapping", "results:\n  - abc\n", `results file r.yaml: line 2: want a mapping (key: value), found text "abc"`},
		{"syntax", "results:\n  - sid: [\n", "results file r.yaml: line 2: did not find expected node content"},
		{"same sid", "results:\n" + entry("s1", "a", "ro", "out-of-sync") + entry("s2", "a", "rw", "out-of-sync") + entry("s1", "a", "ro", "out-of-sync"),
			"results file r.yaml: entry 3 (line 14, a/ro) has the same sid as entry 1 (line 2, a/ro); nothing was applied"},
		{"same role", "results:\n" + entry("s1", "a", "ro", "out-of-sync") + entry("s2", "b", "ro", "out-of-sync") + entry("s3", "a", "RO", "out-of-sync"),
			"results file r.yaml: entry 3 (line 14, a/RO) has the same resource and role as entry 1 (line 2, a/ro); nothing was applied"},
		{"repeats that are not applied", "results:\n" + entry("s1", "a", "ro", "in-sync") + entry("s1", "a", "ro", "out-of-sync") + entry("s2", "a", "ro", "failed"), ""},
		{"unknown status", "results:\n" + entry("s1", "a", "ro", "out_of_sync"),
			`results file r.yaml: entry 1 (line 2, a/ro): status "out_of_sync" is not out-of-sync, in-sync or failed; nothing was applied`},
		{"no sid", "results:\n  - resource_name: a\n    role: ro\n    status: out-of-sync\n",
			"results file r.yaml: entry 1 (line 2, a/ro) has no sid or no resource_name; nothing was applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseResults("r.yaml", []byte(tt.file))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case tt.want == "":
			case err == nil:
				t.Fatalf("no error, want %q", tt.want)
			case err.Error() != tt.want:
				t.Fatalf("error\n %s\nwant\n %s", err, tt.want)
			case !errs.Is(err, errs.Invalid):
				t.Fatalf("error code %s, want invalid", errs.CodeOf(err))
			}
		})
	}
}

// TestApplyResultsFile: what plan -o writes, apply -f applies; a results
// file with an unknown field or a repeated entry applies nothing.
func TestApplyResultsFile(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	h := startServer(t, t.TempDir())
	res := p + "_r"
	h.addResource(res, tg)

	planFile := h.write("plan.yaml", fmt.Sprintf("items:\n  - resource_name: %[1]s\n    role: ro\n    scopes: [%[2]s_app]\n    privileges: [SELECT]\n  - resource_name: %[1]s\n    role: rw\n    scopes: [%[2]s_app]\n    privileges: [SELECT, INSERT]\n", res, p))
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", planFile, "-o", results)
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	data := string(raw)
	var rf ResultsFile
	if err := yaml.Unmarshal(raw, &rf); err != nil || len(rf.Results) != 2 {
		t.Fatalf("plan -o wrote (%v):\n%s", err, data)
	}
	ro, rw := rf.Results[0], rf.Results[1]

	// A hand-edited field.
	edited := strings.Replace(data, "      role: rw\n", "      role: rw\n      sql_plan: GRANT ALL\n", 1)
	if edited == data {
		t.Fatalf("no rw entry to edit in:\n%s", data)
	}
	line := strings.Count(edited[:strings.Index(edited, "sql_plan")], "\n") + 1
	path := h.write("edited.yaml", edited)
	code, out, errOut := h.stile("", "resources", "apply", "-f", path)
	if want := fmt.Sprintf("Error: results file %s: line %d: unknown field \"sql_plan\" (the keys here: message, requires, resource_name, role, role_name, sid, status)\n", path, line); code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit 1, no stdout, stderr:\n%s", code, out, errOut, want)
	}

	// The same sid twice; the same role in two plans.
	write := func(name string, entries ...ResultEntry) string {
		data, err := yaml.Marshal(ResultsFile{Results: entries})
		if err != nil {
			t.Fatal(err)
		}
		return h.write(name, string(data))
	}
	h.fails(1, fmt.Sprintf("entry 3 (line 14, %[1]s/ro) has the same sid as entry 1 (line 2, %[1]s/ro); nothing was applied", res),
		"", "resources", "apply", "-f", write("twice.yaml", ro, rw, ro))
	doc := h.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	again := ro
	again.SID = field(doc, "sid")
	h.fails(1, fmt.Sprintf("entry 2 (line 8, %[1]s/ro) has the same resource and role as entry 1 (line 2, %[1]s/ro)", res),
		"", "resources", "apply", "-f", write("role-twice.yaml", ro, again))

	// Nothing above applied anything: the file plan -o wrote applies whole.
	out = h.ok("", "resources", "apply", "-f", results)
	if strings.Count(out, "  applied  ") != 2 {
		t.Errorf("apply -f of plan -o's file:\n%s", out)
	}
}

// TestApplyBatchWithCreator: a reader listed before a new writer with
// CREATE on the same schema. plan -f counts the writer as a creator up
// front, apply -f applies the writer first, and one round converges both:
// a re-plan of the same file is in sync.
func TestApplyBatchWithCreator(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE ROLE "+p+"_owner", "CREATE DATABASE "+p+"_app")
	c.Exec(t, p+"_app", "CREATE SCHEMA s AUTHORIZATION "+p+"_owner")
	h := startServer(t, t.TempDir())
	res := p + "_r"
	h.addResource(res, c.Target())
	planFile := h.write("plan.yaml", fmt.Sprintf("items:\n  - resource_name: %[1]s\n    role: reader\n    scopes: [%[2]s_app.s]\n    privileges: [SELECT]\n  - resource_name: %[1]s\n    role: writer\n    scopes: [%[2]s_app.s]\n    privileges: [SELECT, CREATE]\n", res, p))
	results := filepath.Join(h.dir, "results.yaml")
	h.ok("", "resources", "plan", "-f", planFile, "-o", results)
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "requires:") {
		t.Fatalf("the reader's entry does not require the writer:\n%s", raw)
	}
	out := h.ok("", "resources", "apply", "-f", results)
	if strings.Count(out, "  applied  ") != 2 || strings.Index(out, "writer") > strings.Index(out, "reader") {
		t.Fatalf("apply -f: want the writer applied, then the reader:\n%s", out)
	}
	again := h.ok("", "resources", "plan", "-f", planFile, "--detailed-exitcode")
	if strings.Contains(again, "out-of-sync") {
		t.Fatalf("a second round is needed:\n%s", again)
	}
}
