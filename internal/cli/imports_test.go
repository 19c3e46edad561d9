package cli

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// serverInsides are the packages a client must not import: it speaks to the
// server through internal/api's types.
var serverInsides = []string{
	"github.com/stile-dev/stile/internal/server",
	"github.com/stile-dev/stile/internal/service",
	"github.com/stile-dev/stile/internal/store",
}

// TestCLIReachesNoServerInsides keeps the command line off the server's
// packages, directly or through another: it speaks to the server through
// internal/api's types, and the server's own commands come from
// internal/daemon through Run (cmd/stile passes them). The tests of this
// package may import daemon; the package may not.
func TestCLIReachesNoServerInsides(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	for _, path := range strings.Fields(string(out)) {
		if slices.Contains(serverInsides, path) || strings.HasPrefix(path, "github.com/stile-dev/stile/internal/store/") {
			t.Errorf("internal/cli reaches %s", path)
		}
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
