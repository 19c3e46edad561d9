package inspect

import (
	"cmp"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

func query(name string) string {
	b, err := sqlFiles.ReadFile("sql/" + name + ".sql")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// Querier is the part of a connection the reader needs; *pgx.Conn and
// pgx.Tx both satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Connector lends admin connections to databases of one cluster
// (target.Target: kept idle a while for reuse). The implementation sets
// pgconn.Config.Database; names never go into a DSN.
type Connector interface {
	Borrow(ctx context.Context, database string) (*pgx.Conn, error)
	// Return gives a connection back; reuse says the read on it went well.
	Return(database string, c *pgx.Conn, reuse bool)
}

// Request says which roles to read and which databases must be inspected
// (the scope databases); databases where a target role has pg_shdepend rows
// are inspected as well.
type Request struct {
	Roles     []string
	Databases []string
	// Attributes asks for every column name of each relation
	// (catalog.Relation.Attributes): a role has strict column rules.
	Attributes bool
	// Parallel bounds concurrent database reads; 0 means 4.
	Parallel int
}

// Read reads a catalog.Snapshot through conn (a connection to the maintenance
// database) and, for each database to inspect, a fresh connection from c.
// A database that cannot be read keeps its error in Database.Error; a failure
// to read the cluster itself is returned.
func Read(ctx context.Context, conn Querier, c Connector, req Request) (*catalog.Snapshot, error) {
	snap, err := ReadCluster(ctx, conn, req.Roles)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, d := range req.Databases {
		want[d] = true
	}
	var todo []*catalog.Database
	for i := range snap.Databases {
		d := &snap.Databases[i]
		if want[d.Name] || d.HasDependents {
			todo = append(todo, d)
		}
	}
	// The target roles' oids, once for every database read.
	oids, err := targetOIDs(snap, req.Roles)
	if err != nil {
		return nil, err
	}
	par := cmp.Or(req.Parallel, 4)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, d := range todo {
		if !d.AllowConn {
			d.Error = fmt.Sprintf("database %q does not allow connections", d.Name)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dc, err := c.Borrow(ctx, d.Name)
			if err != nil {
				d.Error = fmt.Sprintf("connect to database %q: %s", d.Name, errs.Public(nil, err))
				return
			}
			err = readDatabase(ctx, dc, d, req, oids, nil)
			c.Return(d.Name, dc, err == nil)
			if err != nil {
				d.Error = errs.Public(nil, err, "database", d.Name)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return snap, nil
}

// ReadCluster reads the cluster-wide part of a Snapshot: server, roles,
// memberships, databases, shared dependencies and role settings. It makes
// two round trips: the server's row (its version picks the membership
// query), then the rest as one pipelined batch.
func ReadCluster(ctx context.Context, q Querier, roles []string) (*catalog.Snapshot, error) {
	snap := &catalog.Snapshot{}
	s := &snap.Server
	if err := q.QueryRow(ctx, query("server")).Scan(&s.VersionNum, &s.Version, &s.Admin, &s.Superuser, &s.CreateRole, &s.CreateDB, &s.InRecovery, &s.SSL); err != nil {
		return nil, fmt.Errorf("inspect server: %w", err)
	}
	mq := query("members16")
	if !s.MembershipOptions() {
		mq = query("members15")
	}
	b := newBatch()
	queue(b, &snap.Roles, "inspect roles", query("roles"), nil, func(r pgx.Rows) (catalog.Role, error) {
		var x catalog.Role
		err := r.Scan(&x.OID, &x.Name, &x.Superuser, &x.Inherit, &x.CreateRole, &x.CreateDB, &x.Login, &x.Replication, &x.BypassRLS, &x.ConnLimit, &x.ValidUntil, &x.AdminUsage, &x.AdminMember, &x.AdminOption, &x.AdminSet)
		return x, err
	})
	queue(b, &snap.Members, "inspect memberships", mq, []any{roles}, func(r pgx.Rows) (catalog.Membership, error) {
		var m catalog.Membership
		err := r.Scan(&m.Role, &m.Member, &m.Grantor, &m.AdminOption, &m.Inherit, &m.Set)
		return m, err
	})
	queue(b, &snap.Databases, "inspect databases", query("databases"), []any{roles}, func(r pgx.Rows) (catalog.Database, error) {
		var d catalog.Database
		var acl []byte
		if err := r.Scan(&d.Name, &d.Owner, &d.AllowConn, &d.IsTemplate, &acl, &d.HasDependents, &d.OtherDependents, &d.Public, &d.Dependents); err != nil {
			return d, err
		}
		return d, decodeACL(acl, &d.ACL)
	})
	queue(b, &snap.Shared, "inspect shared dependencies", query("shared"), []any{roles}, scanDependency)
	queue(b, &snap.Settings, "inspect role settings", query("settings"), []any{roles}, func(r pgx.Rows) (catalog.RoleSetting, error) {
		var x catalog.RoleSetting
		err := r.Scan(&x.Role, &x.Database, &x.Config)
		return x, err
	})
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	slices.SortFunc(snap.Roles, func(a, b catalog.Role) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(snap.Members, func(a, b catalog.Membership) int {
		return cmp.Or(cmp.Compare(a.Member, b.Member), cmp.Compare(a.Role, b.Role), cmp.Compare(a.Grantor, b.Grantor))
	})
	slices.SortFunc(snap.Databases, func(a, b catalog.Database) int { return cmp.Compare(a.Name, b.Name) })
	sortDependencies(snap.Shared)
	slices.SortFunc(snap.Settings, func(a, b catalog.RoleSetting) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Database, b.Database))
	})
	return snap, nil
}

// ReadSchemas fills only d's schema list (names, owners, extension
// membership), for pickers that need no ACLs.
func ReadSchemas(ctx context.Context, q Querier, d *catalog.Database) error {
	var schemas []catalog.Schema
	b := newBatch()
	queue(b, &schemas, "inspect schemas of "+d.Name, query("schemas"), []any{[]uint32{}, nil}, func(r pgx.Rows) (catalog.Schema, error) {
		var s catalog.Schema
		var acl []byte
		var public, noUsage []string
		err := r.Scan(&s.Name, &s.Owner, &s.Extension, &acl, &s.CreateHolders, &public, &noUsage)
		return s, err
	})
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	slices.SortFunc(schemas, func(a, b catalog.Schema) int { return cmp.Compare(a.Name, b.Name) })
	d.Schemas = schemas
	return nil
}

// ReadDatabase fills d, a database of snap (ReadCluster's, whose roles
// give the target roles' oids), with its schemas, objects, default
// privileges and other dependencies from q, a connection to d. It is a
// fixed handful of queries whatever the number of schemas or tables.
func ReadDatabase(ctx context.Context, q Querier, snap *catalog.Snapshot, d *catalog.Database, req Request) error {
	return ReadDatabaseIn(ctx, q, snap, d, req, nil)
}

// ReadDatabaseIn is ReadDatabase reading the schemas named in only (and
// their objects), when only is not nil, in place of those d holds; d keeps
// its other schemas as they were. Default privileges and dependencies are
// read whole. An apply's verification reads this way the schemas its
// block could have changed, not every table of the database.
func ReadDatabaseIn(ctx context.Context, q Querier, snap *catalog.Snapshot, d *catalog.Database, req Request, only []string) error {
	oids, err := targetOIDs(snap, req.Roles)
	if err != nil {
		return err
	}
	return readDatabase(ctx, q, d, req, oids, only)
}

// readDatabase is ReadDatabaseIn with the target roles' oids found.
func readDatabase(ctx context.Context, q Querier, d *catalog.Database, req Request, roles []uint32, only []string) error {
	if only != nil && !d.Inspected {
		only = nil
	}
	// relRow is relations alike in all but their name (relations.sql):
	// they share rel's ACL, column ACL and attribute slices, which no
	// reader changes.
	type relRow struct {
		schema string
		rel    catalog.Relation
		names  []string
	}
	type procRow struct {
		schema string
		r      catalog.Routine
	}
	var (
		schemas []catalog.Schema
		rels    []relRow
		procs   []procRow
		defs    []catalog.DefaultACL
		deps    []catalog.Dependency
	)
	// One pipelined batch: one round trip for the whole database.
	b := newBatch()
	queue(b, &schemas, "inspect schemas of "+d.Name, query("schemas"), []any{roles, only}, func(r pgx.Rows) (catalog.Schema, error) {
		var s catalog.Schema
		var acl []byte
		if err := r.Scan(&s.Name, &s.Owner, &s.Extension, &acl, &s.CreateHolders, &s.Public, &s.NoUsage); err != nil {
			return s, err
		}
		slices.Sort(s.CreateHolders)
		slices.Sort(s.NoUsage)
		if len(s.NoUsage) == 0 {
			s.NoUsage = nil
		}
		return s, decodeACL(acl, &s.ACL)
	})
	queue(b, &rels, "inspect relations of "+d.Name, query("relations"), []any{roles, only, req.Attributes}, func(r pgx.Rows) (relRow, error) {
		var x relRow
		var grantees, grantors, privileges []string
		var grantable []bool
		var cols []byte
		if err := r.Scan(&x.schema, &x.rel.Kind, &x.rel.Owner, &x.rel.Extension, &x.rel.Partition,
			&grantees, &grantors, &privileges, &grantable, &cols, &x.rel.Attributes, &x.names); err != nil {
			return x, err
		}
		var err error
		if x.rel.ACL, err = zipACL(grantees, grantors, privileges, grantable); err != nil {
			return x, err
		}
		if cols == nil {
			return x, nil
		}
		if err := json.Unmarshal(cols, &x.rel.Columns); err != nil {
			return x, fmt.Errorf("decode column ACL: %w", err)
		}
		slices.SortFunc(x.rel.Columns, func(a, b catalog.ColumnACL) int {
			return cmp.Or(cmp.Compare(a.Column, b.Column), compareACL(a.ACLItem, b.ACLItem))
		})
		return x, nil
	})
	queue(b, &procs, "inspect routines of "+d.Name, query("routines"), []any{roles, only}, func(r pgx.Rows) (procRow, error) {
		var x procRow
		var acl []byte
		if err := r.Scan(&x.schema, &x.r.Name, &x.r.Args, &x.r.Kind, &x.r.Owner, &x.r.Extension, &acl); err != nil {
			return x, err
		}
		return x, decodeACL(acl, &x.r.ACL)
	})
	queue(b, &defs, "inspect default privileges of "+d.Name, query("defaults"), []any{roles}, func(r pgx.Rows) (catalog.DefaultACL, error) {
		var x catalog.DefaultACL
		var acl []byte
		if err := r.Scan(&x.Creator, &x.Schema, &x.ObjType, &acl); err != nil {
			return x, err
		}
		return x, decodeACL(acl, &x.ACL)
	})
	if d.OtherDependents {
		// Elsewhere the target roles hold only what the reads above
		// cover: on a fleet's databases, the search of pg_shdepend is
		// skipped (a fifth of a read of 2,000 relations).
		queue(b, &deps, "inspect dependencies in "+d.Name, query("dependents"), []any{roles}, scanDependency)
	}
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return err
	}

	slices.SortFunc(schemas, func(a, b catalog.Schema) int { return cmp.Compare(a.Name, b.Name) })
	idx := make(map[string]*catalog.Schema, len(schemas))
	for i := range schemas {
		idx[schemas[i].Name] = &schemas[i]
	}
	for _, r := range rels {
		if s := idx[r.schema]; s != nil {
			for _, name := range r.names {
				rel := r.rel
				rel.Name = name
				s.Relations = append(s.Relations, rel)
			}
		}
	}
	for _, p := range procs {
		if s := idx[p.schema]; s != nil {
			s.Routines = append(s.Routines, p.r)
		}
	}
	for i := range schemas {
		s := &schemas[i]
		slices.SortFunc(s.Relations, func(a, b catalog.Relation) int { return cmp.Compare(a.Name, b.Name) })
		slices.SortFunc(s.Routines, func(a, b catalog.Routine) int {
			return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Args, b.Args))
		})
	}
	slices.SortFunc(defs, func(a, b catalog.DefaultACL) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Creator, b.Creator), cmp.Compare(a.ObjType, b.ObjType))
	})
	sortDependencies(deps)
	if only != nil {
		// Keep the schemas not read; a schema read that is gone is gone.
		fresh := make(map[string]bool, len(schemas))
		for _, s := range schemas {
			fresh[s.Name] = true
		}
		for _, s := range d.Schemas {
			if !fresh[s.Name] && !slices.Contains(only, s.Name) {
				schemas = append(schemas, s)
			}
		}
		slices.SortFunc(schemas, func(a, b catalog.Schema) int { return cmp.Compare(a.Name, b.Name) })
	}
	d.Schemas, d.DefaultACLs, d.Unmanaged, d.Inspected, d.Error = schemas, defs, deps, true, ""
	d.Attributes = req.Attributes
	return nil
}

// targetOIDs returns the oids of the roles named that exist in snap: the
// database reads find a target role's entries by oid, one hashed lookup,
// where a list of 2,000 names joined pg_roles in each of their queries (a
// third of a database's read). A role that does not exist has no entries.
func targetOIDs(snap *catalog.Snapshot, names []string) ([]uint32, error) {
	byName := make(map[string]uint32, len(snap.Roles))
	for _, r := range snap.Roles {
		byName[r.Name] = r.OID
	}
	oids := make([]uint32, 0, len(names))
	for _, n := range names {
		oid, ok := byName[n]
		if !ok {
			continue
		}
		if oid == 0 {
			return nil, fmt.Errorf("inspect: role %q has no oid: the snapshot was not read from the cluster", n)
		}
		oids = append(oids, oid)
	}
	return oids, nil
}

// newBatch returns a pipelined batch for catalog reads: one round trip, in
// one implicit transaction (one Sync), whose first statement sets for the
// rest of it, and nowhere else:
//   - jit off: a read of 2,000 relations costs enough for PostgreSQL to
//     compile it, which took longer than the read (190 ms against 85 ms,
//     PostgreSQL 15 with LLVM);
//   - plan_cache_mode force_custom_plan: the statements are prepared once
//     per connection, and after five runs PostgreSQL may switch to a
//     generic plan, which cannot know how many target roles $1 holds; on a
//     warm connection the schema read went from 16 to 550 ms.
//
// SET LOCAL (set_config's true), not a startup parameter, which a pooler
// such as PgBouncer refuses; inside a caller's transaction (an apply's
// verification) the settings last until it ends.
func newBatch() *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue("SELECT set_config('jit', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true)")
	return b
}

// queue adds sql to b; when b runs, each row is scanned into dst. Errors
// name op.
func queue[T any](b *pgx.Batch, dst *[]T, op, sql string, args []any, scan func(pgx.Rows) (T, error)) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			*dst = append(*dst, v)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	})
}

func scanDependency(r pgx.Rows) (catalog.Dependency, error) {
	var d catalog.Dependency
	err := r.Scan(&d.Role, &d.Kind, &d.Object, &d.DepType, &d.Schema)
	return d, err
}

func sortDependencies(ds []catalog.Dependency) {
	slices.SortFunc(ds, func(a, b catalog.Dependency) int {
		return cmp.Or(cmp.Compare(a.Role, b.Role), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Object, b.Object), cmp.Compare(a.DepType, b.DepType))
	})
}

func decodeACL(raw []byte, dst *[]catalog.ACLItem) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("decode ACL: %w", err)
	}
	slices.SortFunc(*dst, compareACL)
	return nil
}

// zipACL returns the ACL entries of four arrays of one order, sorted.
func zipACL(grantees, grantors, privileges []string, grantable []bool) ([]catalog.ACLItem, error) {
	n := len(grantees)
	if len(grantors) != n || len(privileges) != n || len(grantable) != n {
		return nil, fmt.Errorf("decode ACL: %d grantees, %d grantors, %d privileges, %d grant options", n, len(grantors), len(privileges), len(grantable))
	}
	if n == 0 {
		return nil, nil
	}
	acl := make([]catalog.ACLItem, n)
	for i := range acl {
		acl[i] = catalog.ACLItem{Grantee: grantees[i], Grantor: grantors[i], Privilege: privileges[i], Grantable: grantable[i]}
	}
	slices.SortFunc(acl, compareACL)
	return acl, nil
}

func compareACL(a, b catalog.ACLItem) int {
	return cmp.Or(cmp.Compare(a.Grantee, b.Grantee), cmp.Compare(a.Privilege, b.Privilege), cmp.Compare(a.Grantor, b.Grantor))
}
