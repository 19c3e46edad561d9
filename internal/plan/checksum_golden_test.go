package plan_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/plan"
)

// TestGoldenChecksums pins every golden's committed sql_plan_checksum: a
// fresh plan of its input has exactly that checksum, and so has the
// committed document itself, read back from want.yaml. What a document
// carries beside the reference's fields (its blocks of steps) is therefore
// outside the checksum, and a plan made before such a field existed keeps
// its checksum, so it still applies.
func TestGoldenChecksums(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, snap, in := loadGolden(t, path)
			var want goldenOutput
			for _, f := range ar.Files {
				if f.Name == "want.yaml" {
					if err := yaml.Unmarshal(f.Data, &want); err != nil {
						t.Fatalf("want.yaml: %v", err)
					}
				}
			}
			committed := want.Document.Checksum
			if len(committed) != 64 {
				t.Fatalf("want.yaml has no checksum: %q", committed)
			}
			fresh := plan.Make(snap, in).Document
			if fresh.Checksum != committed {
				t.Errorf("a fresh plan's checksum is %s, the committed one %s", fresh.Checksum, committed)
			}
			if got := plan.Checksum(in, snap.Server.Major(), fresh); got != committed {
				t.Errorf("the fresh document hashes to %s, want %s", got, committed)
			}
			if got := plan.Checksum(in, snap.Server.Major(), want.Document); got != committed {
				t.Errorf("the committed document hashes to %s, want %s", got, committed)
			}
		})
	}
}

// TestGoldenBlocksRenderSQL: every golden's document carries its blocks of
// steps, and they render to its sql_plan, line by line with the kind and
// the destructive mark the steps give; a failed plan carries none.
func TestGoldenBlocksRenderSQL(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	marked := 0
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			_, snap, in := loadGolden(t, path)
			r := plan.Make(snap, in)
			lines, ok := r.Document.Lines()
			if r.Status == plan.ItemFailed {
				if len(r.Document.Blocks) != 0 || ok {
					t.Fatalf("a failed plan carries blocks (%d) or renders from them (%v)", len(r.Document.Blocks), ok)
				}
				return
			}
			if !ok {
				t.Fatalf("the blocks render to\n%s\nnot the document's sql_plan\n%s", plan.Text(lines), r.Document.SQLPlan)
			}
			if !reflect.DeepEqual(r.Document.Blocks, r.Blocks) {
				t.Fatalf("the document's blocks are not the plan's")
			}
			want := 0
			for _, b := range r.Blocks {
				for _, s := range b.Steps {
					if s.Destructive {
						want++
					}
				}
			}
			got := 0
			for _, l := range lines {
				if l.Destructive && l.Kind == plan.LineStatement {
					got++
				}
				if l.Destructive && l.Kind != plan.LineStatement && l.Kind != plan.LineComment {
					t.Errorf("a %s line is marked destructive: %q", l.Kind, l.Text)
				}
			}
			if got != want {
				t.Errorf("%d statement lines marked destructive, %d destructive steps", got, want)
			}
			marked += got
		})
	}
	if marked == 0 {
		t.Error("no golden has a destructive step")
	}
}

// TestDocumentBlocksInJSONOnly: the blocks travel in the JSON (the API,
// the stored session) and stay out of the YAML a person reads.
func TestDocumentBlocksInJSONOnly(t *testing.T) {
	_, snap, in := loadGolden(t, "testdata/golden/drift_per_object.txtar")
	doc := plan.Make(snap, in).Document
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back plan.Document
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Blocks, doc.Blocks) || !strings.Contains(string(data), `"destructive":true`) {
		t.Errorf("the blocks did not survive JSON:\n%s", data)
	}
	text, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(text), "blocks") || strings.Contains(string(text), "steps:") {
		t.Errorf("the YAML shows the blocks:\n%s", text)
	}
}
