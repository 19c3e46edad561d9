package service

import (
	"testing"

	"github.com/stile-dev/stile/internal/plan"
)

// TestDriftSummaryCountsSteps: the drift alert counts and quotes the
// plan's steps, not the lines of its text: a name with a line break is one
// statement, whole.
func TestDriftSummaryCountsSteps(t *testing.T) {
	blocks := []plan.Block{
		{Steps: []plan.Step{{SQL: `REVOKE "grp" FROM "r"`, Reason: "a membership", Destructive: true}}},
		{Database: "app", Steps: []plan.Step{{SQL: "GRANT SELECT ON TABLE \"public\".\"a\n-- b\" TO \"r\"", Reason: "missing SELECT on 1 table"}}},
	}
	doc := &plan.Document{Config: plan.Config{RoleName: "r"}, Blocks: blocks, SQLPlan: plan.Render("r", blocks, nil)}
	got := driftSummary("r", doc)
	want := "r differs from its declaration; 2 statement(s) would repair it: REVOKE \"grp\" FROM \"r\"; GRANT SELECT ON TABLE \"public\".\"a\n-- b\" TO \"r\""
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
