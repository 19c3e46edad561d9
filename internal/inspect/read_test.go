package inspect_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/inspect"
	"github.com/stile-dev/stile/internal/pgtest"
)

func TestInspect(t *testing.T) {
	pgtest.Each(t, func(t *testing.T, c pgtest.Cluster) {
		p := c.Prefix(t)
		db := p + "_app"
		role := p + "_reader"
		c.Exec(t, "postgres", "CREATE DATABASE "+db, "CREATE ROLE "+role+" LOGIN", "CREATE ROLE "+p+"_owner")
		c.Exec(t, db,
			"CREATE SCHEMA sales AUTHORIZATION "+p+"_owner",
			"CREATE TABLE sales.orders (id serial primary key, note text)",
			"CREATE VIEW sales.v AS SELECT 1 AS x",
			"CREATE SCHEMA pgx_data",
			"CREATE PROCEDURE sales.pr() LANGUAGE sql AS 'SELECT 1'",
			"GRANT USAGE ON SCHEMA sales TO "+role,
			"GRANT SELECT ON sales.orders TO "+role,
			"GRANT UPDATE (note) ON sales.orders TO "+role,
			"ALTER DEFAULT PRIVILEGES FOR ROLE "+p+"_owner IN SCHEMA sales GRANT SELECT ON TABLES TO "+role,
			"ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO "+role,
			"CREATE TYPE sales.mood AS ENUM ('ok')",
			"ALTER TYPE sales.mood OWNER TO "+role,
			"GRANT CONNECT ON DATABASE "+db+" TO "+role,
		)
		conn := c.Conn(t, "postgres")
		snap, err := inspect.Read(context.Background(), conn, c.Target(), inspect.Request{Roles: []string{role}, Databases: []string{db}})
		if err != nil {
			t.Fatal(err)
		}
		if snap.Server.Major() != c.Major() || !snap.Server.Superuser {
			t.Errorf("server = %+v", snap.Server)
		}
		d, ok := snap.Database(db)
		if !ok || !d.Inspected || d.Error != "" {
			t.Fatalf("database %s not inspected: %+v", db, d)
		}
		if len(d.ACL) != 1 || d.ACL[0].Privilege != "CONNECT" || d.ACL[0].Grantee != role {
			t.Errorf("database ACL = %+v", d.ACL)
		}
		if strings.Join(d.Public, ",") != "CONNECT,TEMPORARY" {
			t.Errorf("PUBLIC on a new database = %v, want CONNECT and TEMPORARY", d.Public)
		}
		if pub, _ := d.Schema("public"); strings.Join(pub.Public, ",") != "USAGE" {
			t.Errorf("PUBLIC on schema public = %v, want USAGE (15+ default)", pub.Public)
		}
		if _, ok := d.Schema("pgx_data"); !ok {
			t.Error("schema pgx_data is a user schema, but was not read")
		}
		if _, ok := d.Schema("pg_catalog"); ok {
			t.Error("pg_catalog was read as a user schema")
		}
		s, _ := d.Schema("sales")
		if s.Owner != p+"_owner" || len(s.ACL) != 1 || s.ACL[0].Privilege != "USAGE" {
			t.Errorf("schema sales = %+v", s)
		}
		kinds := map[string]string{}
		for _, r := range s.Relations {
			kinds[r.Name] = r.Kind
			if r.Name == "orders" {
				if len(r.ACL) != 1 || r.ACL[0].Privilege != "SELECT" || r.ACL[0].Grantor != "postgres" {
					t.Errorf("orders ACL = %+v", r.ACL)
				}
				if len(r.Columns) != 1 || r.Columns[0].Column != "note" || r.Columns[0].Privilege != "UPDATE" {
					t.Errorf("orders column ACL = %+v", r.Columns)
				}
			}
		}
		if kinds["orders"] != "r" || kinds["v"] != "v" || kinds["orders_id_seq"] != "S" {
			t.Errorf("relation kinds = %v", kinds)
		}
		if len(s.Routines) != 1 || s.Routines[0].Kind != "p" {
			t.Errorf("routines = %+v", s.Routines)
		}
		var global, inSchema bool
		for _, da := range d.DefaultACLs {
			global = global || (da.Schema == "" && da.ObjType == "f")
			inSchema = inSchema || (da.Schema == "sales" && da.ObjType == "r" && da.Creator == p+"_owner")
		}
		if !global || !inSchema {
			t.Errorf("default ACLs = %+v", d.DefaultACLs)
		}
		if len(d.Unmanaged) != 1 || d.Unmanaged[0].DepType != "o" || !d.OtherDependents {
			t.Errorf("unmanaged = %+v (other dependents %v)", d.Unmanaged, d.OtherDependents)
		}
	})
}

// TestInspectDependents: a database outside the request where a target role
// holds something (a grant) is read too, so that its plan can revoke it; one
// where only other roles do is not. The target roles are found by oid from
// the cluster read; a role that does not exist is no error.
func TestInspectDependents(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	role, other := p+"_reader", p+"_other"
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_asked", "CREATE DATABASE "+p+"_held", "CREATE DATABASE "+p+"_others",
		"CREATE ROLE "+role, "CREATE ROLE "+other)
	c.Exec(t, p+"_held", "CREATE TABLE t (id int)", "CREATE TABLE u (id int)", "CREATE TABLE v (id int)",
		"GRANT SELECT ON t, u, v TO "+role)
	c.Exec(t, p+"_others", "CREATE TABLE t (id int)", "GRANT SELECT ON t TO "+other)
	snap, err := inspect.Read(context.Background(), c.Conn(t, "postgres"), c.Target(),
		inspect.Request{Roles: []string{p + "_missing", role}, Databases: []string{p + "_asked"}})
	if err != nil {
		t.Fatal(err)
	}
	for db, want := range map[string]bool{p + "_asked": true, p + "_held": true, p + "_others": false} {
		d, _ := snap.Database(db)
		if d.Inspected != want || d.HasDependents != (db == p+"_held") {
			t.Errorf("database %s: inspected %v, dependents %v; want inspected %v", db, d.Inspected, d.HasDependents, want)
		}
	}
	held, _ := snap.Database(p + "_held")
	if held.OtherDependents {
		t.Errorf("%s_held, where the role holds one grant on a table, has other dependents: its read searches pg_shdepend for nothing", p)
	}
	// Three tables alike come as one row of the relation read, and are
	// three relations, in name order, each with its grant.
	s, _ := held.Schema("public")
	var names []string
	for _, r := range s.Relations {
		names = append(names, r.Name)
		if len(r.ACL) != 1 || r.ACL[0].Grantee != role || r.ACL[0].Privilege != "SELECT" || r.Kind != "r" {
			t.Errorf("%s in %s_held: %+v", r.Name, p, r)
		}
	}
	if strings.Join(names, ",") != "t,u,v" {
		t.Errorf("relations of %s_held.public: %v, want t, u, v", p, names)
	}
}
