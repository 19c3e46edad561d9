package inspect_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestReaderRunsNoPlanner: the catalog reader reads; it does not plan. The
// code that reads and then plans (apply.Plan, what an agent runs for a plan
// job) sits on the agent's side, so inspect never reaches the planner.
func TestReaderRunsNoPlanner(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, path := range strings.Fields(string(out)) {
		if path == "github.com/stile-dev/stile/internal/plan" {
			t.Errorf("inspect reaches %s", path)
		}
	}
}
