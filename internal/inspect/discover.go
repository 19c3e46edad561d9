package inspect

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stile-dev/stile/internal/catalog"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/target"
)

// Discovery is every role of a cluster and what it holds: its attributes,
// its memberships, and per database what it owns and what it was granted,
// summarised per schema and kind of object.
type Discovery struct {
	// ServerVersion is "PostgreSQL 16.4".
	ServerVersion string           `json:"server_version"`
	Roles         []DiscoveredRole `json:"roles"`
	// Errors names the databases that could not be read, and why.
	Errors []string `json:"errors,omitempty"`
}

// DiscoveredRole is one role of a cluster.
type DiscoveredRole struct {
	Name        string `json:"name"`
	Superuser   bool   `json:"superuser"`
	Login       bool   `json:"login"`
	Inherit     bool   `json:"inherit"`
	CreateRole  bool   `json:"createrole"`
	CreateDB    bool   `json:"createdb"`
	Replication bool   `json:"replication"`
	BypassRLS   bool   `json:"bypassrls"`
	ConnLimit   int    `json:"connection_limit"`
	ValidUntil  string `json:"valid_until,omitempty"`
	// MemberOf are the roles it is a member of (with 16's options; before
	// 16 Inherit is its own rolinherit and Set is true); Members the
	// roles that are members of it.
	MemberOf []catalog.Membership `json:"member_of"`
	Members  []string             `json:"members"`
	// Holds is what it owns or was granted, one row per database, schema,
	// kind of object and privilege ("OWNER" for ownership).
	Holds []Holding `json:"holds"`
	// Stile says whether stile manages it: managed (a role stile made),
	// adopted (one it took over), or unmanaged; set by the service, not by
	// the catalog.
	Stile string `json:"stile"`
}

// Holding is one privilege (or ownership) a role holds on Objects of the
// Of objects of a kind in a schema of a database; Kind "database" is the
// database itself, "schema" the schema; "column" counts the tables with a
// column grant, "policy" the tables with a row-level security policy that
// names the role (Privilege is the policy's command). Default privileges
// (For names the role whose new objects get them) have no count.
type Holding struct {
	Database  string `json:"database"`
	Schema    string `json:"schema,omitempty"`
	Kind      string `json:"kind"`
	Privilege string `json:"privilege"`
	Objects   int    `json:"objects,omitempty"`
	Of        int    `json:"of,omitempty"`
	Default   bool   `json:"default,omitempty"`
	For       string `json:"for,omitempty"`
}

// Discover reads every role of t's cluster: the roles and memberships
// once, then one read per database it may connect to. PUBLIC's holdings
// are under the role "PUBLIC". Built-in roles (pg_*) are not listed, but
// memberships in them are.
func Discover(ctx context.Context, t target.Target) (Discovery, error) {
	var out Discovery
	conn, err := t.Connect(ctx, t.Database)
	if err != nil {
		return out, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	snap, err := ReadCluster(ctx, conn, nil)
	if err != nil {
		return out, err
	}
	// "PostgreSQL 16.4", without the build's details.
	if f := strings.Fields(snap.Server.Version); len(f) >= 2 {
		out.ServerVersion = f[0] + " " + strings.TrimSuffix(f[1], ",")
	}
	names := make([]string, 0, len(snap.Roles))
	for _, r := range snap.Roles {
		names = append(names, r.Name)
	}
	mq := query("members16")
	if !snap.Server.MembershipOptions() {
		mq = query("members15")
	}
	members, err := collect(ctx, conn, "discover memberships", mq, []any{names}, func(r pgx.Rows) (catalog.Membership, error) {
		var m catalog.Membership
		err := r.Scan(&m.Role, &m.Member, &m.Grantor, &m.AdminOption, &m.Inherit, &m.Set)
		return m, err
	})
	if err != nil {
		return out, err
	}
	byName := map[string]*DiscoveredRole{"PUBLIC": {Name: "PUBLIC", Inherit: true, MemberOf: []catalog.Membership{}, Members: []string{}, Holds: []Holding{}}}
	for _, r := range snap.Roles {
		if strings.HasPrefix(r.Name, "pg_") {
			continue
		}
		byName[r.Name] = &DiscoveredRole{Name: r.Name, Superuser: r.Superuser, Login: r.Login, Inherit: r.Inherit, CreateRole: r.CreateRole,
			CreateDB: r.CreateDB, Replication: r.Replication, BypassRLS: r.BypassRLS, ConnLimit: r.ConnLimit, ValidUntil: r.ValidUntil,
			MemberOf: []catalog.Membership{}, Members: []string{}, Holds: []Holding{}}
	}
	for _, m := range members {
		if r := byName[m.Member]; r != nil {
			r.MemberOf = append(r.MemberOf, m)
		}
		if r := byName[m.Role]; r != nil && !slices.Contains(r.Members, m.Member) {
			r.Members = append(r.Members, m.Member)
		}
	}
	hold := func(role string, h Holding) {
		if r := byName[role]; r != nil {
			r.Holds = append(r.Holds, h)
		}
	}
	type dbRow struct{ name, owner, grantee, privilege string }
	dbs, err := collect(ctx, conn, "discover databases", query("discover_databases"), nil, func(r pgx.Rows) (dbRow, error) {
		var x dbRow
		err := r.Scan(&x.name, &x.owner, &x.grantee, &x.privilege)
		return x, err
	})
	if err != nil {
		return out, err
	}
	var databases []string
	for _, d := range dbs {
		if !slices.Contains(databases, d.name) {
			databases = append(databases, d.name)
			hold(d.owner, Holding{Database: d.name, Kind: "database", Privilege: "OWNER", Objects: 1, Of: 1})
		}
		if d.grantee != "" && d.grantee != d.owner {
			hold(d.grantee, Holding{Database: d.name, Kind: "database", Privilege: d.privilege, Objects: 1, Of: 1})
		}
	}
	for _, db := range databases {
		dc, err := t.Connect(ctx, db)
		if err != nil {
			out.Errors = append(out.Errors, db+": "+errs.Public(nil, err, "database", db))
			continue
		}
		type objRow struct {
			what string
			h    Holding
			role string
		}
		rows, err := collect(ctx, dc, "discover "+db, query("discover_objects"), nil, func(r pgx.Rows) (objRow, error) {
			x := objRow{h: Holding{Database: db}}
			err := r.Scan(&x.what, &x.h.Schema, &x.h.Kind, &x.role, &x.h.Privilege, &x.h.For, &x.h.Objects, &x.h.Of)
			return x, err
		})
		dc.Close(context.WithoutCancel(ctx))
		if err != nil {
			out.Errors = append(out.Errors, db+": "+errs.Public(nil, err, "database", db))
			continue
		}
		for _, x := range rows {
			switch x.what {
			case "owner":
				x.h.Privilege = "OWNER"
			case "default":
				x.h.Default = true
			}
			hold(x.role, x.h)
		}
	}
	for _, r := range byName {
		slices.SortFunc(r.Holds, func(a, b Holding) int {
			return cmp.Or(cmp.Compare(a.Database, b.Database), cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Kind, b.Kind),
				boolCompare(a.Default, b.Default), cmp.Compare(a.For, b.For), cmp.Compare(a.Privilege, b.Privilege))
		})
		slices.Sort(r.Members)
		out.Roles = append(out.Roles, *r)
	}
	slices.SortFunc(out.Roles, func(a, b DiscoveredRole) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// collect runs one query with jit off and custom plans, as every catalog
// read here does, and scans its rows.
func collect[T any](ctx context.Context, q Querier, op, sql string, args []any, scan func(pgx.Rows) (T, error)) ([]T, error) {
	var out []T
	b := newBatch()
	queue(b, &out, op, sql, args, scan)
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
