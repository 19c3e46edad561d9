package main

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLayers holds the module to the layers docs/architecture.md draws: each
// package is in one layer, and imports (tests included) only packages of
// lower layers (a package's external tests, package x_test, may import
// above it). A package the document does not place, or an arrow that
// points up or sideways, fails: move the package, or the document, on
// purpose.
func TestLayers(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	layer := map[string]int{}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (.+) \|$`)
	name := regexp.MustCompile("`([a-z0-9/]+)`")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		n, _ := strconv.Atoi(m[1])
		for _, p := range name.FindAllStringSubmatch(m[2], -1) {
			if _, dup := layer[p[1]]; dup {
				t.Errorf("%s is in two layers", p[1])
			}
			layer[p[1]] = n
		}
	}
	if len(layer) == 0 {
		t.Fatal("docs/architecture.md has no layers table (| N | `pkg`, … |)")
	}
	graph := imports(t)
	for _, pkg := range sortedKeys(graph) {
		l, ok := layer[pkg]
		if !ok {
			t.Errorf("%s is in no layer of docs/architecture.md", pkg)
			continue
		}
		for _, dep := range graph[pkg] {
			if dl, ok := layer[dep]; ok && dl >= l {
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow may only point down", pkg, l, dep, dl)
			}
		}
	}
}

// TestArrows keeps docs/architecture.md's list of arrows the one go list
// draws: every package and the module's packages it imports (its own
// tests' imports included). On a difference it prints the list to paste.
func TestArrows(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile("(?m)^- `([a-z0-9/]+)` → (.+)$")
	name := regexp.MustCompile("`([a-z0-9/]+)`")
	documented := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(string(doc), -1) {
		var deps []string
		for _, d := range name.FindAllStringSubmatch(m[2], -1) {
			deps = append(deps, d[1])
		}
		documented[m[1]] = strings.Join(deps, " ")
	}
	graph := imports(t)
	var want strings.Builder
	differ := len(documented) != len(graph)
	for _, pkg := range sortedKeys(graph) {
		deps := graph[pkg]
		if documented[pkg] != strings.Join(deps, " ") {
			differ = true
		}
		if len(deps) == 0 {
			want.WriteString("- `" + pkg + "` → nothing\n")
			continue
		}
		want.WriteString("- `" + pkg + "` → `" + strings.Join(deps, "`, `") + "`\n")
	}
	if differ {
		t.Errorf("docs/architecture.md's arrows differ from go list; they are:\n%s", want.String())
	}
}

// imports is the module's import graph: each package (short name) and the
// module's packages it and its own tests import, sorted.
func imports(t *testing.T) map[string][]string {
	const module = "github.com/stile-dev/stile/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports ","}},{{join .TestImports ","}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	short := func(path string) string {
		return strings.TrimPrefix(strings.TrimPrefix(path, module), "internal/")
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, list, _ := strings.Cut(line, " ")
		deps := []string{}
		for _, imp := range strings.Split(list, ",") {
			if strings.HasPrefix(imp, module) && imp != path && !slices.Contains(deps, short(imp)) {
				deps = append(deps, short(imp))
			}
		}
		slices.Sort(deps)
		graph[short(path)] = deps
	}
	return graph
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
