package agent_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestSidesPointInward: the protocol (agent) imports neither side; the
// server's side (hub) and the agent's side (runner) import the protocol and
// not each other; and the runner, which the remote agent runs next to the
// databases, does not reach the server's store.
func TestSidesPointInward(t *testing.T) {
	const m = "github.com/stile-dev/stile/internal/agent"
	for pkg, forbidden := range map[string][]string{
		".":        {m + "/hub", m + "/runner"},
		"./hub":    {m + "/runner"},
		"./runner": {m + "/hub", "github.com/stile-dev/stile/internal/store"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, f := range forbidden {
			if slices.Contains(deps, f) {
				t.Errorf("%s reaches %s", pkg, f)
			}
		}
	}
}
