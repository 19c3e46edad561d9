package plan_test

import (
	"path/filepath"
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
