package apply_test

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The randomized converge test's creators, and the drift it makes by hand.

type creator struct{ role, schema string }

// creators lists who may create in which schema of db: each role with
// CREATE there, directly (owners and managed roles with CREATE). Managed
// roles count only where the admin can set default privileges for them: a
// superuser, or on 16+ the CREATEROLE admin that made them.
func (tr *trial) creators(db string) []creator {
	conn := tr.conn(db)
	rows, err := conn.Query(context.Background(), `
		SELECT DISTINCT pg_get_userbyid(a.grantee)::text, n.nspname::text
		FROM pg_namespace n, aclexplode(n.nspacl) a
		WHERE a.privilege_type = 'CREATE' AND a.grantee <> 0 AND pg_get_userbyid(a.grantee) LIKE $1
		ORDER BY 1, 2`, tr.p+"%")
	if err != nil {
		tr.fatalf("creators: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (creator, error) {
		var c creator
		return c, r.Scan(&c.role, &c.schema)
	})
	if err != nil {
		tr.fatalf("creators: %v", err)
	}
	return slices.DeleteFunc(out, func(c creator) bool {
		managed := strings.HasPrefix(c.role, "stile_")
		return managed && !tr.super && tr.c.Major() < 16
	})
}

// fingerprint is every ACL and default ACL of the test's databases and the
// declared roles' attributes: whether a change by hand changed anything.
func (tr *trial) fingerprint() string {
	var b strings.Builder
	for _, db := range tr.dbs {
		var fp string
		// NULL ACLs read as the owner's defaults, items sorted: a REVOKE
		// that only materializes a NULL ACL changes nothing.
		if err := tr.conn(db).QueryRow(context.Background(), `SELECT concat_ws('|',
			(SELECT string_agg(c.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text)
			        FROM unnest(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) x), ';' ORDER BY c.oid)
			 FROM pg_class c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')),
			(SELECT string_agg(n.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text)
			        FROM unnest(coalesce(n.nspacl, acldefault('n', n.nspowner))) x), ';' ORDER BY n.oid) FROM pg_namespace n),
			(SELECT string_agg(d.oid::text || ':' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x), ';' ORDER BY d.oid)
			 FROM pg_default_acl d),
			(SELECT string_agg(a.attrelid::text || '.' || a.attnum || ':' || a.attacl::text, ';' ORDER BY a.attrelid, a.attnum)
			 FROM pg_attribute a WHERE a.attacl IS NOT NULL))`).Scan(&fp); err != nil {
			tr.fatalf("fingerprint: %v", err)
		}
		b.WriteString(fp)
	}
	var names []string
	for _, in := range tr.roles {
		names = append(names, in.RoleName)
	}
	var roles string
	if err := tr.conn("postgres").QueryRow(context.Background(), `SELECT string_agg(concat_ws(':', r.rolname, r.rolcreatedb, r.rolconnlimit, r.rolvaliduntil,
			(SELECT string_agg(m.roleid::text, ',' ORDER BY m.roleid) FROM pg_auth_members m WHERE m.member = r.oid)), ';' ORDER BY r.rolname)
		FROM pg_roles r WHERE r.rolname = ANY($1)`, names).Scan(&roles); err != nil {
		tr.fatalf("fingerprint: %v", err)
	}
	return b.String() + roles
}

// drift changes one thing by hand; it reports false when it found nothing
// to change.
func (tr *trial) drift() bool {
	if tr.group != "" && tr.grng.IntN(4) == 0 {
		// A member leaves its group by hand, revoked by the admin that
		// granted it.
		var members []string
		for _, in := range tr.roles {
			if len(in.MemberOf) > 0 {
				members = append(members, in.RoleName)
			}
		}
		if len(members) > 0 {
			revoke := []string{"REVOKE " + pgx.Identifier{tr.group}.Sanitize() + " FROM " + pgx.Identifier{members[tr.grng.IntN(len(members))]}.Sanitize()}
			if !tr.super {
				revoke = append([]string{"SET ROLE " + tr.tg.User}, append(revoke, "RESET ROLE")...)
			}
			tr.exec("postgres", revoke...)
			return true
		}
	}
	i := tr.rng.IntN(len(tr.roles))
	role := pgx.Identifier{tr.roles[i].RoleName}.Sanitize()
	db := tr.pick(tr.dbs)
	objs := tr.objects(db)
	var tables []object
	for _, o := range objs {
		if o.kind == "table" && !strings.HasPrefix(o.owner, "stile_") {
			tables = append(tables, o)
		}
	}
	switch tr.rng.IntN(9) {
	case 0:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		tr.exec(db, "GRANT "+tr.pick([]string{"INSERT", "DELETE", "TRUNCATE", "SELECT"})+" ON "+o.sql()+" TO "+role)
	case 1:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		x := tr.p + "_x"
		// As the superuser, which grants as the owner: the owner may lack
		// USAGE on the schema.
		tr.exec(db, "GRANT USAGE ON SCHEMA "+o.schema+" TO "+x, "GRANT SELECT ON "+o.sql()+" TO "+x+" WITH GRANT OPTION",
			"SET ROLE "+x, "GRANT SELECT ON "+o.sql()+" TO "+role, "RESET ROLE")
	case 2:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		tr.exec(db, "REVOKE ALL ON "+o.sql()+" FROM "+role)
	case 3:
		tr.exec(db, "ALTER DEFAULT PRIVILEGES FOR ROLE "+tr.pick(tr.owners)+" IN SCHEMA public GRANT UPDATE ON TABLES TO "+role)
	case 4:
		// A global default privilege: a schema-level REVOKE cannot undo it.
		tr.exec(db, "ALTER DEFAULT PRIVILEGES FOR ROLE "+tr.pick(tr.owners)+" GRANT SELECT ON TABLES TO "+role)
	case 5:
		if len(tables) == 0 {
			return false
		}
		o := tables[tr.rng.IntN(len(tables))]
		var col string
		if err := tr.conn(db).QueryRow(context.Background(), "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1", o.sql()).Scan(&col); err != nil {
			tr.fatalf("drift: first column of %s: %v", o.sql(), err)
		}
		tr.exec(db, "GRANT UPDATE ("+pgx.Identifier{col}.Sanitize()+") ON "+o.sql()+" TO "+role)
	case 6:
		// A membership, granted by the admin (a CREATEROLE admin may not
		// revoke the bootstrap superuser's grant on 16+: that fails the
		// plan by design, tested apart).
		grant := []string{"GRANT " + tr.p + "_x TO " + role}
		if !tr.super {
			grant = append([]string{"SET ROLE " + tr.tg.User}, append(grant, "RESET ROLE")...)
		}
		tr.exec("postgres", grant...)
	case 7:
		tr.exec("postgres", "ALTER ROLE "+role+" VALID UNTIL '2031-01-01'")
	default:
		tr.exec("postgres", "ALTER ROLE "+role+" CREATEDB CONNECTION LIMIT 3")
	}
	return true
}
