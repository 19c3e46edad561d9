package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
)

// TestPlanAnswerBriefUnlessAsked: POST /api/v1/plans answers each item
// without its document unless the request asks for documents (streamed or
// not); the session keeps it (GET /api/v1/plans/{sid}), and the CLI asks
// for them where it prints them (--json, one plan shown).
func TestPlanAnswerBriefUnlessAsked(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	h := startServer(t, t.TempDir())
	h.addResource(p, tg)
	token, err := os.ReadFile(filepath.Join(h.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(documents, stream bool) []api.PlanOutcome {
		t.Helper()
		body, _ := json.Marshal(api.PlanRequest{Items: []spec.Role{{Resource: p, Label: "ro", Scopes: []string{p + "_app"}, Privileges: []string{"SELECT"}}}, Documents: documents})
		req, _ := http.NewRequest("POST", h.vars["STILE_URL"]+"/api/v1/plans", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		if stream {
			req.Header.Set("Accept", "application/x-ndjson")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("plan: %s", resp.Status)
		}
		var out []api.PlanOutcome
		dec := json.NewDecoder(resp.Body)
		if stream {
			for dec.More() {
				var line api.PlanLine
				if err := dec.Decode(&line); err != nil {
					t.Fatal(err)
				}
				out = append(out, line.PlanOutcome)
			}
			return out
		}
		var res struct{ Results []api.PlanOutcome }
		if err := dec.Decode(&res); err != nil {
			t.Fatal(err)
		}
		return res.Results
	}
	for _, stream := range []bool{false, true} {
		brief := post(false, stream)
		if len(brief) != 1 || brief[0].SID == "" || brief[0].Status != "out-of-sync" || brief[0].Document != nil {
			t.Fatalf("brief answer (stream %v): %+v", stream, brief)
		}
		full := post(true, stream)
		if len(full) != 1 || full[0].Document == nil || full[0].Document.Checksum == "" {
			t.Fatalf("answer with documents (stream %v): %+v", stream, full)
		}
		if doc := h.ok("", "resources", "plan", "status", brief[0].SID); !strings.Contains(doc, "sql_plan_checksum:") {
			t.Fatalf("the brief plan's session has no document:\n%s", doc)
		}
	}
	file := h.write("plan.yaml", fmt.Sprintf("items:\n  - resource_name: %s\n    role: ro\n    scopes: [%s_app]\n    privileges: [SELECT]\n", p, p))
	if out := h.ok("", "resources", "plan", "-f", file, "--json"); !strings.Contains(out, `"sql_plan_checksum"`) {
		t.Fatalf("plan -f --json lacks the documents:\n%s", out)
	}
	if out := h.ok("", "resources", "plan", p, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT"); !strings.Contains(out, "sql_plan_checksum:") {
		t.Fatalf("one plan printed without its document:\n%s", out)
	}
}
