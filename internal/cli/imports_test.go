package cli

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// serverWiring are the CLI's files that run server-side code and so may
// import the server's insides: stile server (server.go, with its OIDC flags
// in oidcflags.go and its PostgreSQL listener in pglisten.go) and stile
// store, which copies one store to another (store.go).
var serverWiring = []string{"oidcflags.go", "pglisten.go", "server.go", "store.go"}

// serverInsides are the packages a client must not import: it speaks to the
// server through internal/api's types.
var serverInsides = []string{
	"github.com/stile-dev/stile/internal/server",
	"github.com/stile-dev/stile/internal/service",
	"github.com/stile-dev/stile/internal/store",
}

// TestClientFilesImportNoServerInsides keeps the client side of the CLI
// (every file but the server wiring above, new files included) off the
// server's packages: the wire types it needs are in internal/api.
func TestClientFilesImportNoServerInsides(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if slices.Contains(serverWiring, name) {
			seen = append(seen, name)
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(serverInsides, path) {
				t.Errorf("%s imports %s: a client file uses internal/api's types, not the server's", name, path)
			}
		}
	}
	if len(seen) != len(serverWiring) {
		t.Errorf("server-wiring files found: %v, listed: %v (update the list when one moves)", seen, serverWiring)
	}
}

// TestAPIImportsNoServerInsides keeps internal/api, which every client
// file imports, off the server's packages, directly or through another.
func TestAPIImportsNoServerInsides(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../api").Output()
	if err != nil {
		t.Fatalf("go list -deps ../api: %v", err)
	}
	for _, path := range strings.Fields(string(out)) {
		if slices.Contains(serverInsides, path) {
			t.Errorf("internal/api reaches %s", path)
		}
	}
}
