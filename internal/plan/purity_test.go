package plan_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestPlannerReachesNoIO keeps the planner pure: plan, and the packages it
// reads (catalog, spec, sqlq), never reach a database driver or the
// network, and none of the module's packages among them imports os or io/fs
// itself. (The standard library's fmt imports os for Stdout, so "os" in
// the dependency list says nothing; a direct import of it does.)
func TestPlannerReachesNoIO(t *testing.T) {
	const module = "github.com/stile-dev/stile/"
	forbidden := []string{"net", "database/sql", "os/exec", "net/http", "github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5/pgconn"}
	for _, pkg := range []string{"plan", "catalog", "spec", "sqlq"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \",\"}}", "../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			path, imports, _ := strings.Cut(line, " ")
			if slices.Contains(forbidden, path) {
				t.Errorf("%s reaches %s", pkg, path)
			}
			if strings.HasPrefix(path, module) {
				for _, imp := range strings.Split(imports, ",") {
					if imp == "os" || imp == "io/fs" {
						t.Errorf("%s reaches %s, which imports %s", pkg, path, imp)
					}
				}
			}
		}
	}
}
