// Package catalog holds the Snapshot: the live state of a PostgreSQL cluster
// that matters to a set of roles, as plain, serialisable values. It does no
// I/O (package inspect reads it), so the planner that consumes it cannot
// either. Only direct ACL entries are recorded (aclexplode), never effective
// privileges: PUBLIC grants and memberships must not make a scope look
// provisioned.
package catalog

// Snapshot is what the planner knows about a cluster. Lists are sorted by
// name in Go (bytewise), never by a database collation.
type Snapshot struct {
	Server    Server       `json:"server"`
	Roles     []Role       `json:"roles"`
	Members   []Membership `json:"memberships"`
	Databases []Database   `json:"databases"`
	// Shared holds pg_shdepend hits on shared objects other than database
	// ACLs (ownership, tablespaces, parameter ACLs, membership grantors).
	Shared []Dependency `json:"shared,omitempty"`
	// Settings holds pg_db_role_setting rows of the target roles.
	Settings []RoleSetting `json:"settings,omitempty"`
}

// Server describes the cluster and the admin's own standing in it.
type Server struct {
	VersionNum  int    `json:"version_num"`
	Version     string `json:"version"`
	Admin       string `json:"admin"`
	Superuser   bool   `json:"superuser"`
	CreateRole  bool   `json:"createrole"`
	CreateDB    bool   `json:"createdb,omitempty"`
	InRecovery  bool   `json:"in_recovery"`
	SSL         bool   `json:"ssl"`
	LockDB      string `json:"-"`
	Maintenance string `json:"-"`
}

// Major returns the major version (15, 16, 17 …).
func (s Server) Major() int { return s.VersionNum / 10000 }

// The version differences the planner acts on, named, each once.

// MembershipOptions: PostgreSQL 16 gave each pg_auth_members row its own
// grantor, INHERIT and SET options: SET ROLE needs SET, having a role's
// privileges (ALTER DEFAULT PRIVILEGES FOR ROLE) needs INHERIT, and REVOKE
// removes only the row GRANTED BY the named grantor. Before 16 any
// membership did all of it, and REVOKE removed the membership whatever its
// grantor (https://www.postgresql.org/docs/16/release-16.html, "Allow
// fine-grained control of role membership").
func (s Server) MembershipOptions() bool { return s.Major() >= 16 }

// CreateRoleIsScoped: since PostgreSQL 16 a CREATEROLE role may alter,
// grant and drop only the roles it holds ADMIN on (it gets ADMIN on those it
// creates, and createrole_self_grant makes it a member too), and may change
// CREATEDB, REPLICATION or BYPASSRLS only if it has them. Before 16,
// CREATEROLE was nearly superuser over non-superuser roles
// (https://www.postgresql.org/docs/16/release-16.html, "Restrict the
// privileges of CREATEROLE").
func (s Server) CreateRoleIsScoped() bool { return s.Major() >= 16 }

// HasMaintain: PostgreSQL 17 added the MAINTAIN table privilege
// (https://www.postgresql.org/docs/17/release-17.html).
func (s Server) HasMaintain() bool { return s.Major() >= 17 }

// Role is one row of pg_roles with the admin's capabilities over it.
type Role struct {
	// OID is the role's pg_authid oid: the per-database reads find the
	// target roles' entries by it.
	OID         uint32 `json:"oid,omitempty"`
	Name        string `json:"name"`
	Superuser   bool   `json:"superuser"`
	Inherit     bool   `json:"inherit"`
	CreateRole  bool   `json:"createrole"`
	CreateDB    bool   `json:"createdb"`
	Login       bool   `json:"login"`
	Replication bool   `json:"replication"`
	BypassRLS   bool   `json:"bypassrls"`
	ConnLimit   int    `json:"connection_limit"`
	ValidUntil  string `json:"valid_until,omitempty"`
	// AdminUsage: pg_has_role(admin, role, 'USAGE'): the admin has the
	// role's privileges (an INHERIT membership chain).
	AdminUsage bool `json:"admin_usage"`
	// AdminMember: pg_has_role(admin, role, 'MEMBER').
	AdminMember bool `json:"admin_member"`
	// AdminOption: pg_has_role(admin, role, 'MEMBER WITH ADMIN OPTION').
	AdminOption bool `json:"admin_option"`
	// AdminSet: the admin may SET ROLE to the role (pg_has_role 'SET' on
	// 16+, 'MEMBER' before).
	AdminSet bool `json:"admin_set,omitempty"`
}

// Membership is one pg_auth_members row touching a target role. On 15,
// Inherit is the member's rolinherit and Set is true.
type Membership struct {
	Role        string `json:"role"`
	Member      string `json:"member"`
	Grantor     string `json:"grantor"`
	AdminOption bool   `json:"admin_option"`
	Inherit     bool   `json:"inherit"`
	Set         bool   `json:"set"`
}

// ACLItem is one aclexplode row whose grantee or grantor is a target role.
type ACLItem struct {
	Grantee   string `json:"grantee"`
	Grantor   string `json:"grantor"`
	Privilege string `json:"privilege"`
	Grantable bool   `json:"grantable"`
}

// Database is one pg_database row; Inspected ones carry their contents.
type Database struct {
	Name       string    `json:"name"`
	Owner      string    `json:"owner"`
	AllowConn  bool      `json:"allow_conn"`
	IsTemplate bool      `json:"is_template"`
	ACL        []ACLItem `json:"acl,omitempty"`
	// HasDependents reports pg_shdepend rows of a target role in this
	// database: it must be inspected.
	HasDependents bool `json:"has_dependents,omitempty"`
	// Dependents are the target roles with pg_shdepend rows here, sorted:
	// a retirement visits only the databases where its own role has some.
	// Nil from an agent older than the list (then HasDependents counts).
	Dependents []string `json:"dependents,omitempty"`
	// OtherDependents reports, of those rows, some the schema, relation,
	// routine and default-privilege reads may not cover (a type, a
	// policy, a table's ownership …): the database's read looks for them
	// (Unmanaged) only then.
	OtherDependents bool `json:"other_dependents,omitempty"`
	// Public is what PUBLIC holds on the database.
	Public    []string `json:"public,omitempty"`
	Inspected bool     `json:"inspected"`
	// Attributes reports that the relations' column names were read
	// (Relation.Attributes).
	Attributes bool `json:"attributes,omitempty"`
	// Error is why an inspection failed (for example, no CONNECT).
	Error       string       `json:"error,omitempty"`
	Schemas     []Schema     `json:"schemas,omitempty"`
	DefaultACLs []DefaultACL `json:"default_acls,omitempty"`
	Unmanaged   []Dependency `json:"unmanaged,omitempty"`
}

// Schema is one user schema (system schemas are never read) with its objects.
type Schema struct {
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Extension bool      `json:"extension,omitempty"`
	ACL       []ACLItem `json:"acl,omitempty"`
	// CreateHolders are the roles holding CREATE on the schema directly.
	CreateHolders []string `json:"create_holders,omitempty"`
	// Public is what PUBLIC holds on the schema.
	Public []string `json:"public,omitempty"`
	// NoUsage are the roles that own an object in the schema, or granted a
	// target role a privilege on one, but lack USAGE on the schema
	// (has_schema_privilege: through no membership nor PUBLIC either). As
	// them, PostgreSQL cannot look a name in the schema up: "permission
	// denied for schema".
	NoUsage   []string   `json:"no_usage,omitempty"`
	Relations []Relation `json:"relations,omitempty"`
	Routines  []Routine  `json:"routines,omitempty"`
}

// Relation is a table-like relation (relkind r, p, v, m, f) or a sequence (S).
type Relation struct {
	Name      string      `json:"name"`
	Kind      string      `json:"kind"`
	Owner     string      `json:"owner"`
	Extension bool        `json:"extension,omitempty"`
	Partition bool        `json:"partition,omitempty"`
	ACL       []ACLItem   `json:"acl,omitempty"`
	Columns   []ColumnACL `json:"columns,omitempty"`
	// Attributes are the relation's column names in attnum order, read
	// only when a role of the batch has strict column rules
	// (inspect.Request.Attributes); nil when not read.
	Attributes []string `json:"attributes,omitempty"`
}

// IsSequence reports relkind S.
func (r Relation) IsSequence() bool { return r.Kind == "S" }

// ColumnACL is one column-level ACL entry of a target role.
type ColumnACL struct {
	Column string `json:"column"`
	ACLItem
}

// Routine is a function, procedure, aggregate or window function.
type Routine struct {
	Name      string    `json:"name"`
	Args      string    `json:"args"`
	Kind      string    `json:"kind"`
	Owner     string    `json:"owner"`
	Extension bool      `json:"extension,omitempty"`
	ACL       []ACLItem `json:"acl,omitempty"`
}

// Signature is name(args), the routine's identity for display and sorting.
func (r Routine) Signature() string { return r.Name + "(" + r.Args + ")" }

// DefaultACL is one pg_default_acl row's entries for target roles. Schema is
// empty for a global (defaclnamespace = 0) row. ObjType is r (tables), S
// (sequences), f (functions), T (types) or n (schemas).
type DefaultACL struct {
	Creator string    `json:"creator"`
	Schema  string    `json:"schema"`
	ObjType string    `json:"objtype"`
	ACL     []ACLItem `json:"acl"`
}

// Dependency is a pg_shdepend hit that the planner does not diff.
type Dependency struct {
	Role    string `json:"role"`
	Kind    string `json:"kind"`
	Object  string `json:"object"`
	DepType string `json:"deptype"`
	// Schema is the schema of a type or domain (Kind pg_type).
	Schema string `json:"schema,omitempty"`
}

// RoleSetting is an ALTER ROLE … [IN DATABASE …] SET entry.
type RoleSetting struct {
	Role     string   `json:"role"`
	Database string   `json:"database,omitempty"`
	Config   []string `json:"config"`
}

// Role returns the named role, if present.
func (s *Snapshot) Role(name string) (Role, bool) {
	for _, r := range s.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// Database returns the named database, if present.
func (s *Snapshot) Database(name string) (*Database, bool) {
	for i := range s.Databases {
		if s.Databases[i].Name == name {
			return &s.Databases[i], true
		}
	}
	return nil, false
}

// Schema returns the named schema, if present.
func (d *Database) Schema(name string) (*Schema, bool) {
	for i := range d.Schemas {
		if d.Schemas[i].Name == name {
			return &d.Schemas[i], true
		}
	}
	return nil, false
}
