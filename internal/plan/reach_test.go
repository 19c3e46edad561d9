package plan_test

import (
	"testing"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
)

// TestReachesOthers checks which plans a batch must re-read the catalog
// after: one that changes who may create in a schema, or the USAGE of a
// role that owns objects there; not one that only grants the role its own
// privileges.
func TestReachesOthers(t *testing.T) {
	_, snap, in := loadGolden(t, "testdata/golden/owner_without_schema_usage_pg16.txtar")
	if res := plan.Make(snap, in); res.Status != plan.ItemOutOfSync || res.ReachesOthers {
		t.Fatalf("a new reader: %s, reaches others %v, want out-of-sync and false", res.Status, res.ReachesOthers)
	}
	s := &snap.Databases[0].Schemas[0]
	snap.Roles = append(snap.Roles, catalog.Role{Name: in.RoleName, Inherit: true, Login: true, ConnLimit: -1, AdminOption: true, AdminUsage: true, AdminSet: true})
	s.ACL = []catalog.ACLItem{{Grantee: in.RoleName, Grantor: "sowner", Privilege: "CREATE"}}
	s.CreateHolders = []string{in.RoleName}
	if res := plan.Make(snap, in); !res.ReachesOthers {
		t.Errorf("a plan revoking CREATE on a schema does not reach others:\n%s", res.Document.SQLPlan)
	}
	// Out of its scopes now, where it owns a table: its USAGE is revoked.
	s.CreateHolders = nil
	s.Relations = append(s.Relations, catalog.Relation{Name: "mine", Kind: "r", Owner: in.RoleName})
	snap.Databases = append(snap.Databases, catalog.Database{Name: "other", Owner: "admin", AllowConn: true, Inspected: true})
	role := in.Role
	role.Scopes = []string{"other"}
	in2, err := plan.NewInput(role, in.RoleName)
	if err != nil {
		t.Fatal(err)
	}
	in2.Host, in2.Port, in2.AdminUser = in.Host, in.Port, in.AdminUser
	s.ACL = []catalog.ACLItem{{Grantee: in.RoleName, Grantor: "sowner", Privilege: "USAGE"}}
	if res := plan.Make(snap, in2); !res.ReachesOthers {
		t.Errorf("a plan revoking USAGE on a schema where the role owns a table does not reach others:\n%s", res.Document.SQLPlan)
	}
}
