package apply_test

import (
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/plan"
)

// What TestRandomConverge adds to a trial from RNG streams of its own
// (trial.urng, trial.crng), so that the fixed seeds' catalogs, roles and
// drift stay what they were.

// revokeUsage takes USAGE on the schema (and sometimes CREATE) from some
// owners of objects there (issue 21 item 12): an owner need not be able to
// look its objects up.
func (tr *trial) revokeUsage(db string, schemas []string, schemaOwner map[string]string, objectOwners map[string][]string) {
	var stmts []string
	for _, s := range schemas {
		owners := slices.Sorted(slices.Values(objectOwners[s]))
		for _, o := range slices.Compact(owners) {
			if o == schemaOwner[s] || tr.urng.IntN(3) != 0 {
				continue
			}
			privs := "USAGE"
			if tr.urng.IntN(2) == 0 {
				privs += ", CREATE"
			}
			stmts = append(stmts, "REVOKE "+privs+" ON SCHEMA "+s+" FROM "+o)
		}
	}
	if len(stmts) > 0 {
		tr.exec(db, stmts...)
	}
}

// removeCreator makes, before a batch and sometimes, the role applied
// first hold CREATE, granted by hand, on a schema a later role of the batch
// covers (issue 21 item 13): the first entry revokes it, unless it is
// declared there with CREATE, so the later entry's plan of default
// privileges FOR ROLE it no longer holds.
func (tr *trial) removeCreator(inputs []plan.Input, order []int) {
	if len(order) < 2 || tr.crng.IntN(2) != 0 {
		return
	}
	first := inputs[order[0]].RoleName
	later := inputs[order[1+tr.crng.IntN(len(order)-1)]]
	sc := later.Scopes[tr.crng.IntN(len(later.Scopes))]
	schema := sc.Schema
	if schema == "" {
		schema = "public"
	}
	ident := pgx.Identifier{first}.Sanitize()
	if !tr.super && tr.c.Major() >= 16 {
		// Made by the admin, as stile would: ADMIN on it, and INHERIT to
		// set default privileges for it.
		tr.exec("postgres", "SET ROLE "+tr.tg.User, "SET createrole_self_grant = 'set, inherit'", "CREATE ROLE "+ident+" LOGIN", "RESET createrole_self_grant", "RESET ROLE")
	} else {
		tr.exec("postgres", "CREATE ROLE "+ident+" LOGIN")
	}
	tr.exec(sc.Database, "GRANT CREATE ON SCHEMA "+schema+" TO "+ident)
	tr.removes = true
}
