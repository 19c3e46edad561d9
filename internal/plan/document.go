// Package plan computes, from a catalog.Snapshot and a declared role, the
// minimal SQL that brings the role to its desired state, and the plan
// document that shows it. It is pure: no I/O, no clock, no randomness, and
// the same inputs give byte-identical output.
package plan

// Document is the plan document printed by `stile resources plan` and kept
// in the plan's session. Its fields are the reference's; the ones stile adds
// are omitted when empty.
type Document struct {
	SID           string `json:"sid" yaml:"sid"`
	Config        Config `json:"config" yaml:"config"`
	CurrentState  State  `json:"current_state" yaml:"current_state"`
	SQLPlan       string `json:"sql_plan" yaml:"sql_plan"`
	Checksum      string `json:"sql_plan_checksum" yaml:"sql_plan_checksum"`
	CommandOutput string `json:"command_output" yaml:"command_output"`
	// Requires lists roles declared in the same batch that do not exist
	// yet: roles with CREATE the SQL sets default privileges for, and
	// groups it grants. Their plans must be applied first. Not part of the
	// checksum.
	Requires []string `json:"requires,omitempty" yaml:"requires,omitempty"`
	// Blocks are the plan's steps as data, in the order SQLPlan renders
	// them: each step's SQL, why it is there and whether it is destructive.
	// The web app and the CLI mark the destructive steps from here. Not
	// part of the checksum (SQLPlan, their rendering, is), in the JSON only
	// (the YAML a person reads shows them as sql_plan), and absent from a
	// failed plan and from documents made before stile kept them.
	Blocks []Block `json:"blocks,omitempty" yaml:"-"`
}

// Lines renders the document's blocks line by line (plan.Lines); ok is
// false when they do not render to SQLPlan: a failed plan, whose SQL is
// only its reasons, or a document made before documents carried their
// blocks. Then only SQLPlan says what the plan does.
func (d Document) Lines() (lines []Line, ok bool) {
	lines = Lines(d.Config.RoleName, d.Blocks, d.CurrentState.Unmanaged)
	return lines, Text(lines) == d.SQLPlan
}

// Config is the role definition as submitted, with its generated name.
type Config struct {
	Type           string   `json:"type" yaml:"type"`
	RoleName       string   `json:"role_name" yaml:"role_name"`
	SourceRole     string   `json:"source_role" yaml:"source_role"`
	Scopes         []string `json:"scopes" yaml:"scopes"`
	Privileges     []string `json:"privileges" yaml:"privileges"`
	RotatePassword bool     `json:"rotate_password" yaml:"rotate_password"`
	// Retire marks a plan that removes the role, with Heir taking what it
	// owns.
	Retire bool   `json:"retire,omitempty" yaml:"retire,omitempty"`
	Heir   string `json:"heir,omitempty" yaml:"heir,omitempty"`
	// StrictColumns are the role's strict masking rules: the columns they
	// match are withheld (no SELECT), the rest of their tables granted
	// column by column.
	StrictColumns []string `json:"strict_columns,omitempty" yaml:"strict_columns,omitempty"`
	// Adopt marks a role stile took over under its own name; Replication
	// and BypassRLS are the attributes it is declared to keep.
	Adopt       bool `json:"adopt,omitempty" yaml:"adopt,omitempty"`
	Replication bool `json:"replication,omitempty" yaml:"replication,omitempty"`
	BypassRLS   bool `json:"bypassrls,omitempty" yaml:"bypassrls,omitempty"`
	// MemberOf are the groups the role is a member of, by PostgreSQL name.
	MemberOf []string `json:"member_of,omitempty" yaml:"member_of,omitempty"`
}

// State is the role-relevant live state at plan time.
type State struct {
	Role              string                `json:"role" yaml:"role"`
	RequiresMigration bool                  `json:"requires_migration" yaml:"requires_migration"`
	Exists            bool                  `json:"exists" yaml:"exists"`
	Attributes        map[string]any        `json:"attributes" yaml:"attributes"`
	Memberships       []MembershipState     `json:"memberships" yaml:"memberships"`
	ScopeStates       map[string]ScopeState `json:"scope_states" yaml:"scope_states"`
	// Databases lists, for each database whose ACL holds the role, the
	// privileges held there directly.
	Databases map[string][]string `json:"databases,omitempty" yaml:"databases,omitempty"`
	// OutOfScope lists grants held outside the declared scopes, all of
	// which the plan revokes.
	OutOfScope []string `json:"out_of_scope,omitempty" yaml:"out_of_scope,omitempty"`
	// DefaultPrivileges lists default-privilege rows that grant to the role.
	DefaultPrivileges []string `json:"default_privileges,omitempty" yaml:"default_privileges,omitempty"`
	// Unmanaged lists pg_shdepend hits stile does not change (ownership
	// outside the scopes, types, policies, role settings …): drift to be
	// resolved by hand.
	Unmanaged []string `json:"unmanaged,omitempty" yaml:"unmanaged,omitempty"`
	// UncoveredCreators are creators in scope schemas the admin cannot act
	// for: objects they create will not get the role's privileges.
	UncoveredCreators []string `json:"uncovered_creators,omitempty" yaml:"uncovered_creators,omitempty"`
	// Members are roles that are members of this role (they can use it).
	// A group's members are its members' plans to change, so they are not
	// part of a group's checksum.
	Members []string `json:"members,omitempty" yaml:"members,omitempty"`
	// PublicAccess is what PUBLIC (every role) holds on the scope
	// databases and schemas: information, not the role's state, so a scoped
	// role is not mistaken for an isolated one. Not in the checksum.
	PublicAccess map[string][]string `json:"public_access,omitempty" yaml:"public_access,omitempty"`
	Warnings     []string            `json:"warnings,omitempty" yaml:"warnings,omitempty"`
}

// MembershipState is one membership row of the role.
type MembershipState struct {
	Role    string `json:"role" yaml:"role"`
	Grantor string `json:"grantor" yaml:"grantor"`
	Inherit bool   `json:"inherit" yaml:"inherit"`
	Set     bool   `json:"set" yaml:"set"`
	Admin   bool   `json:"admin" yaml:"admin"`
}

// ScopeState is the state of one schema in scope.
type ScopeState struct {
	BulkPrivileges []string   `json:"bulk_privileges" yaml:"bulk_privileges"`
	TableCount     int        `json:"table_count" yaml:"table_count"`
	Status         string     `json:"status" yaml:"status"`
	Exceptions     Exceptions `json:"exceptions" yaml:"exceptions"`
	// Owned lists objects the role owns here: never diffed or revoked.
	Owned []string `json:"owned,omitempty" yaml:"owned,omitempty"`
	// Creators are the roles whose future objects get default privileges.
	Creators []string `json:"creators,omitempty" yaml:"creators,omitempty"`
	// Withheld lists, per table, the columns strict masking rules withhold:
	// the role holds SELECT on the table's other columns only.
	Withheld map[string][]string `json:"withheld,omitempty" yaml:"withheld,omitempty"`
}

// Exceptions lists per-object differences from the bulk state, both ways.
type Exceptions struct {
	Missing map[string][]string `json:"missing" yaml:"missing"`
	Extra   map[string][]string `json:"extra" yaml:"extra"`
}

// Scope statuses.
const (
	StatusInSync        = "in-sync"
	StatusUnprovisioned = "out-of-sync/unprovisioned"
	StatusDrifted       = "out-of-sync/drifted"
	StatusEmptySchema   = "empty-schema"
)

// Item statuses, as the plan result file reports them.
const (
	ItemInSync    = "in-sync"
	ItemOutOfSync = "out-of-sync"
	ItemFailed    = "failed"
)
