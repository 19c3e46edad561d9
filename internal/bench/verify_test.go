package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/sqlq"
)

// grantsQuery lists the explicit privileges each of the roles in $1 holds in
// the current database: on it, its schemas, its relations (by kind) and in
// its default privileges (by creator, schema and kind), counted.
const grantsQuery = `
SELECT g.rolname, x.what || '=' || count(*) FROM (
  SELECT 'database:' || datname || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END AS what, a.grantee
    FROM pg_catalog.pg_database, aclexplode(datacl) AS a WHERE datname = current_database()
  UNION ALL
  SELECT 'schema:' || nspname || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END, a.grantee
    FROM pg_catalog.pg_namespace, aclexplode(nspacl) AS a
  UNION ALL
  SELECT 'relation:' || n.nspname || ':' || c.relkind::text || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END, a.grantee
    FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace, aclexplode(c.relacl) AS a
  UNION ALL
  SELECT 'default:' || pg_catalog.pg_get_userbyid(d.defaclrole) || ':' || COALESCE(n.nspname, '*') || ':' || d.defaclobjtype::text || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END, a.grantee
    FROM pg_catalog.pg_default_acl AS d LEFT JOIN pg_catalog.pg_namespace AS n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) AS a
) AS x JOIN pg_catalog.pg_roles AS g ON g.oid = x.grantee
WHERE g.rolname = ANY ($1)
GROUP BY g.rolname, x.what`

// rolesQuery lists the attributes and memberships of the roles in $1.
const rolesQuery = `
SELECT r.rolname, format('role:super=%s,inherit=%s,createrole=%s,createdb=%s,login=%s,replication=%s,bypassrls=%s,connlimit=%s,member_of=%s',
  r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,
  (SELECT count(*) FROM pg_catalog.pg_auth_members AS m WHERE m.member = r.oid))
FROM pg_catalog.pg_roles AS r WHERE r.rolname = ANY ($1)`

// verifyGrants checks that role i of names holds exactly what the fixture's
// declaration gives label-i (want), read from the catalog: the same check
// for stile's roles and ldap2pg's, so both tools are known to have done the
// same work.
func verifyGrants(b *testing.B, c pgtest.Cluster, prefix, admin, tool string, names []string, fx fixture) {
	b.Helper()
	got := grantPrints(b, c, prefix, names, fx)
	for i, name := range names {
		if w := wantPrint(prefix, admin, i, fx); got[name] != w {
			b.Fatalf("%s: role %s holds\n  %s\nwant\n  %s", tool, name, got[name], w)
		}
	}
}

// wantPrint is what role i of the fixture's declaration holds, in
// grantPrints' form.
func wantPrint(prefix, admin string, i int, fx fixture) string {
	db, s := fmt.Sprintf("%s_db%d", prefix, i%fx.databases), fmt.Sprintf("s%02d", i%fx.schemas)
	lines := []string{
		"role:super=f,inherit=t,createrole=f,createdb=f,login=t,replication=f,bypassrls=f,connlimit=-1,member_of=0",
		"database:" + db + ":CONNECT=1",
		"schema:" + s + ":USAGE=1",
		fmt.Sprintf("relation:%s:r:SELECT=%d", s, fx.tables),
		fmt.Sprintf("relation:%s:S:SELECT=%d", s, fx.tables),
		"default:" + admin + ":" + s + ":r:SELECT=1",
		"default:" + admin + ":" + s + ":S:SELECT=1",
	}
	slices.Sort(lines)
	return strings.Join(lines, "; ")
}

// grantPrints returns, per role name, its attributes and explicit
// privileges in the fixture's databases as sorted "what=count" lines.
func grantPrints(b *testing.B, c pgtest.Cluster, prefix string, names []string, fx fixture) map[string]string {
	b.Helper()
	lines := map[string][]string{}
	collect := func(db, q string) {
		conn, err := c.Target().Connect(context.Background(), db)
		if err != nil {
			b.Fatalf("connect to %s: %v", db, err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(context.Background(), q, names)
		if err != nil {
			b.Fatalf("%s: read grants: %v", db, err)
		}
		type row struct{ Name, Line string }
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
		if err != nil {
			b.Fatalf("%s: read grants: %v", db, err)
		}
		for _, r := range got {
			lines[r.Name] = append(lines[r.Name], r.Line)
		}
	}
	collect("postgres", rolesQuery)
	for d := range fx.databases {
		collect(fmt.Sprintf("%s_db%d", prefix, d), grantsQuery)
	}
	out := make(map[string]string, len(lines))
	for name, ls := range lines {
		slices.Sort(ls)
		out[name] = strings.Join(ls, "; ")
	}
	return out
}

// dropRoles drops those of names that exist, and what they hold in the
// fixture's databases (DROP OWNED BY also revokes their privileges on the
// databases themselves, shared objects).
func dropRoles(b *testing.B, c pgtest.Cluster, prefix string, names []string, fx fixture) {
	b.Helper()
	conn, err := c.Target().Connect(context.Background(), "postgres")
	if err != nil {
		b.Fatalf("connect: %v", err)
	}
	rows, _ := conn.Query(context.Background(), "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY ($1) ORDER BY 1", names)
	existing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	conn.Close(context.Background())
	if err != nil {
		b.Fatalf("list roles: %v", err)
	}
	if len(existing) == 0 {
		return
	}
	for d := range fx.databases {
		c.Exec(b, fmt.Sprintf("%s_db%d", prefix, d), "DROP OWNED BY "+sqlq.Idents(existing))
	}
	c.Exec(b, "postgres", "DROP ROLE "+sqlq.Idents(existing))
}
