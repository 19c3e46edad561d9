package plan

import (
	"cmp"
	"slices"

	"github.com/stile-dev/stile/internal/spec"
)

// DeclaredCreator is a role of the same batch declared with CREATE on
// Scopes.
type DeclaredCreator struct {
	Role   string       `json:"role"`
	Scopes []spec.Scope `json:"scopes"`
}

// DeclareCreators lets the inputs of one batch on one cluster plan as one:
// each counts the roles declared with CREATE before it in apply order as
// creators of their scopes up front, so one plan and one apply of the batch
// converge although those roles hold no CREATE until their own apply. A
// role with CREATE counts only those before it, so no two plans require
// each other; two roles with CREATE on one schema still take a second
// round for the first of them.
func DeclareCreators(inputs []Input) {
	var seen []DeclaredCreator
	for _, i := range ApplyOrder(inputs) {
		inputs[i].Creators = slices.Clone(seen)
		r := inputs[i].Role
		if creates(r) {
			seen = append(seen, DeclaredCreator{Role: inputs[i].RoleName, Scopes: slices.Clone(inputs[i].Scopes)})
		}
	}
}

// ApplyOrder returns the indexes of inputs in the order a batch applies
// them, each rank by role name:
//
//  0. groups declared with CREATE;
//  1. the other roles with CREATE (the plans after them set default
//     privileges for them);
//  2. the other groups (their members' plans grant them);
//  3. roles with CREATE that join a group of rank 2: after their group,
//     which therefore takes a second round for their default privileges
//     (each needs the other to exist);
//  4. the rest.
func ApplyOrder(inputs []Input) []int {
	order := make([]int, len(inputs))
	for i := range order {
		order[i] = i
	}
	plainGroups := map[string]bool{} // groups without CREATE
	for _, in := range inputs {
		if in.Role.Type == spec.Group && !in.Role.Retire && !creates(in.Role) {
			plainGroups[in.RoleName] = true
		}
	}
	rank := func(i int) int {
		r := inputs[i].Role
		group := r.Type == spec.Group && !r.Retire
		switch {
		case creates(r) && group:
			return 0
		case creates(r) && slices.ContainsFunc(inputs[i].MemberOf, func(g string) bool { return plainGroups[g] }):
			return 3
		case creates(r):
			return 1
		case group:
			return 2
		}
		return 4
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(inputs[a].RoleName, inputs[b].RoleName))
	})
	return order
}

func creates(r spec.Role) bool {
	return (r.Type == spec.Managed || r.Type == spec.Group) && !r.Retire && slices.Contains(r.Privileges, "CREATE")
}
