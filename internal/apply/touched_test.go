package apply

import (
	"slices"
	"testing"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/plan"
	"github.com/stile-dev/stile/internal/spec"
)

// TestTouched: a block's verification re-reads its scopes and every schema
// where the role owns, holds or grants something; the whole database when
// a scope is the database or the role is retiring.
func TestTouched(t *testing.T) {
	const role = "stile_r"
	held := []catalog.ACLItem{{Grantee: role, Grantor: "owner", Privilege: "SELECT"}}
	other := []catalog.ACLItem{{Grantee: "someone", Grantor: "owner", Privilege: "SELECT"}}
	snap := &catalog.Snapshot{Databases: []catalog.Database{{Name: "app", Inspected: true, Schemas: []catalog.Schema{
		{Name: "scoped", Owner: "owner"},
		{Name: "grant_on_table", Owner: "owner", Relations: []catalog.Relation{{Name: "t", ACL: held}}},
		{Name: "grant_on_column", Owner: "owner", Relations: []catalog.Relation{{Name: "t", Columns: []catalog.ColumnACL{{Column: "c", ACLItem: held[0]}}}}},
		{Name: "grants_as_grantor", Owner: "owner", Routines: []catalog.Routine{{Name: "f", ACL: []catalog.ACLItem{{Grantee: "x", Grantor: role}}}}},
		{Name: "owned", Owner: role},
		{Name: "untouched", Owner: "owner", ACL: other, Relations: []catalog.Relation{{Name: "t", ACL: other}}},
	}}}}
	in := func(r spec.Role) plan.Input {
		i, err := plan.NewInput(r, role)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	got := touched(snap, in(spec.Role{Scopes: []string{"app.scoped", "other.public"}, Privileges: []string{"SELECT"}}), "app")
	want := []string{"grant_on_column", "grant_on_table", "grants_as_grantor", "owned", "scoped"}
	if !slices.Equal(got, want) {
		t.Errorf("touched = %v, want %v", got, want)
	}
	if got := touched(snap, in(spec.Role{Scopes: []string{"app"}, Privileges: []string{"SELECT"}}), "app"); got != nil {
		t.Errorf("a whole-database scope: %v, want nil (every schema)", got)
	}
	if got := touched(snap, in(spec.Role{Scopes: []string{"app.scoped"}, Retire: true}), "app"); got != nil {
		t.Errorf("a retirement: %v, want nil (every schema)", got)
	}
	if got := touched(snap, in(spec.Role{Scopes: []string{"app.scoped"}, Privileges: []string{"SELECT"}}), "unread"); got != nil {
		t.Errorf("a database the snapshot did not read: %v, want nil", got)
	}
}
