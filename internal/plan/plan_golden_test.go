package plan_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	"golang.org/x/tools/txtar"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the want section of golden files")

// goldenInput is the input section of a golden file.
type goldenInput struct {
	Role        spec.Role `json:"role"`
	Host        string    `json:"host"`
	Port        int       `json:"port"`
	AdminUser   string    `json:"admin_user"`
	HasPassword bool      `json:"has_password"`
	Strict      []string  `json:"strict_columns"`
	Kept        bool      `json:"kept"`
	// MemberOf are the groups' PostgreSQL names, as the service resolves
	// them from the role's member_of labels.
	MemberOf []string `json:"member_of_names"`
}

// goldenOutput is what a golden file pins: the item's status and the whole
// plan document.
type goldenOutput struct {
	Status        string        `yaml:"status"`
	Message       string        `yaml:"message"`
	NeedsPassword bool          `yaml:"needs_password"`
	Document      plan.Document `yaml:"document"`
}

func loadGolden(t *testing.T, path string) (*txtar.Archive, *catalog.Snapshot, plan.Input) {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var snap catalog.Snapshot
	var gi goldenInput
	for _, f := range ar.Files {
		var err error
		switch f.Name {
		case "snapshot.json":
			err = json.Unmarshal(f.Data, &snap)
		case "input.json":
			err = json.Unmarshal(f.Data, &gi)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
	}
	role, err := gi.Role.Normalize()
	if err != nil {
		t.Fatalf("%s: input: %v", path, err)
	}
	name, err := role.PGName("stile")
	if err != nil {
		t.Fatal(err)
	}
	in, err := plan.NewInput(role, name)
	if err != nil {
		t.Fatalf("%s: input: %v", path, err)
	}
	in.Host, in.Port, in.AdminUser, in.HasPassword, in.Strict = gi.Host, gi.Port, gi.AdminUser, gi.HasPassword, gi.Strict
	in.Kept, in.MemberOf = gi.Kept, gi.MemberOf
	return ar, &snap, in
}

func render(r plan.Result) string {
	out, err := yaml.Marshal(goldenOutput{Status: r.Status, Message: r.Message, NeedsPassword: r.NeedsPassword, Document: r.Document})
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestPlanGolden plans each testdata/golden/*.txtar and compares the result
// with its want.yaml section; -update rewrites it.
func TestPlanGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txtar")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			ar, snap, in := loadGolden(t, path)
			got := render(plan.Make(snap, in))
			if again := render(plan.Make(snap, in)); again != got {
				t.Fatalf("two plans of the same input differ:\n%s", cmp.Diff(got, again))
			}
			var want *txtar.File
			for i := range ar.Files {
				if ar.Files[i].Name == "want.yaml" {
					want = &ar.Files[i]
				}
			}
			if *update {
				if want == nil {
					ar.Files = append(ar.Files, txtar.File{Name: "want.yaml"})
					want = &ar.Files[len(ar.Files)-1]
				}
				want.Data = []byte(got)
				if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want == nil {
				t.Fatalf("%s has no want.yaml; run go test -run TestPlanGolden -update", path)
			}
			if diff := cmp.Diff(string(want.Data), got); diff != "" {
				t.Errorf("plan differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// TestChecksumCoversState checks that the checksum follows the role's held
// privileges and the resource's identity.
func TestChecksumCoversState(t *testing.T) {
	_, snap, in := loadGolden(t, "testdata/golden/drift_per_object.txtar")
	base := plan.Make(snap, in).Document.Checksum

	rel := &snap.Databases[0].Schemas[0].Relations[0]
	rel.ACL = append(rel.ACL, catalog.ACLItem{Grantee: in.RoleName, Grantor: "postgres", Privilege: "TRUNCATE"})
	if plan.Make(snap, in).Document.Checksum == base {
		t.Error("a new grant on a table did not change the checksum")
	}
	rel.ACL = rel.ACL[:len(rel.ACL)-1]
	if plan.Make(snap, in).Document.Checksum != base {
		t.Error("the checksum is not a function of its inputs")
	}
	in.Port++
	if plan.Make(snap, in).Document.Checksum == base {
		t.Error("a different port did not change the checksum")
	}
}
