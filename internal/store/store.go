// Package store defines stile's records and the Store interface. One
// implementation (store/sqldb) runs on SQLite (store/sqlite, embedded) and
// PostgreSQL (store/postgres, shared by replicas). Secrets are stored
// sealed by secret.Box; the store never sees plaintext.
package store

import (
	"context"
	"strings"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/mask"
	"github.com/stile-dev/stile/internal/spec"
)

// Resource is one inventory entry with its admin credential.
type Resource struct {
	spec.Resource
	Agent string `json:"agent"`
	// AdminUser is empty until an admin is set.
	AdminUser string `json:"admin_user,omitempty"`
	// AdminSecret is the sealed admin password; never sent to clients.
	AdminSecret string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Role is a declared role and the state stile keeps for it.
type Role struct {
	Resource string `json:"resource_name"`
	Label    string `json:"role"`
	RoleName string `json:"role_name"`
	// Spec is the role's declaration: the spec of its last successful
	// apply once Declared, else of its latest plan.
	Spec     spec.Role `json:"spec"`
	Declared bool      `json:"declared"`
	// PasswordCurrent and PasswordPending are sealed. Pending is written
	// before an apply that sets a password runs, and promoted after COMMIT.
	PasswordCurrent string `json:"-"`
	PasswordPending string `json:"-"`
	// PasswordSetAt is when stile last set the role's password (a pending
	// one promoted); zero before this was kept.
	PasswordSetAt time.Time `json:"password_set_at,omitzero"`
	LastPlanSID   string    `json:"last_plan_sid,omitempty"`
	LastApplySID  string    `json:"last_apply_sid,omitempty"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Session kinds.
const (
	KindHealth = "health"
	KindPlan   = "plan"
	KindApply  = "apply"
	KindDrift  = "drift"
	// KindConnect is a connection relayed by stile: it runs as long as its
	// client wants.
	KindConnect = "connect"
)

// Session is api.Session (the wire type), kept here for the server side.
type Session = api.Session

// Agent is a remote agent's registration. The token is stored only as its
// SHA-256.
type Agent struct {
	Name      string    `json:"name"`
	TokenHash string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Version   string    `json:"version,omitempty"`
	// Replica is the server replica the agent is connected to, empty when
	// it is not connected anywhere.
	Replica string `json:"replica,omitempty"`
}

// Job is work for a remote agent, queued in the store so that the replica
// the agent is connected to runs it whichever replica took the request.
type Job struct {
	ID    string
	Agent string
	Kind  string
	// Payload is sealed: it carries the admin credential.
	Payload   string
	Status    string // queued, running, done
	Result    string // JSON
	Error     string // JSON of the error, if the job failed
	ClaimedBy string
	CreatedAt time.Time
	Deadline  time.Time
}

// WebSession is a signed-in browser. The cookie value is stored only as its
// SHA-256.
type WebSession struct {
	IDHash string
	CSRF   string
	// TokenHash is the hash of the personal token the browser signed in
	// with; User the user who signed in with the identity provider; both
	// empty for the admin token.
	TokenHash string
	User      string
	Expires   time.Time
	// NotAfter, when set, ends the sign-in however much it is used.
	NotAfter time.Time
}

// User is api.User (the wire type), kept here for the server side.
type User = api.User

// User sources.
const (
	SourceLocal = api.SourceLocal
	SourceOIDC  = api.SourceOIDC
)

// Token is a personal access token; only its hash is stored.
type Token struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// ExpiresAt, when set, ends the token (those stile login mints).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// DeviceLogin is a CLI's sign-in waiting for a person to approve it in a
// browser (stile login --device).
type DeviceLogin struct {
	DeviceHash string
	UserCode   string
	// Status: pending, approved (User is set), done (its token was
	// taken).
	Status  string
	User    string
	Expires time.Time
}

// CancelRoute says how to cancel the query running on an open connection
// from any replica. Route is sealed: it holds the real server's cancel key.
type CancelRoute struct {
	KeyHash   string
	User      string
	Route     []byte
	CreatedAt time.Time
}

// Approval is api.Approval (the wire type), kept here for the server side.
type Approval = api.Approval

// SessionFilter narrows Sessions. Zero fields match everything.
type SessionFilter struct {
	Resource string
	Kind     string
	Status   string
	// Since keeps sessions created at or after it, Until those created
	// before it.
	Since, Until time.Time
	Limit        int
}

// LastUseFilter narrows LastUses. Zero fields match everything.
type LastUseFilter struct {
	// Roles keeps the uses of these roles, User those of this user.
	Roles []string
	User  string
	// Since keeps the uses at or after it.
	Since time.Time
}

// PlanFinish is a finished plan session and the role it planned; a nil
// Role (a retirement's plan) leaves the declared role as it is.
type PlanFinish struct {
	Session Session
	Role    *Role
}

// PasswordAction says what FinishApply does with a pending password.
type PasswordAction int

// Password actions.
const (
	KeepPending    PasswordAction = iota // nothing is known: leave it
	PromotePending                       // the password is set: pending becomes current
	DropPending                          // it was not set: discard pending
)

// Store is stile's persistent state. Every method is atomic. Lookups of a
// missing record return an errs.NotFound; uniqueness and state clashes an
// errs.Conflict.
type Store interface {
	// SetMetaOnce stores value under key unless a value is there already,
	// and returns the stored value.
	SetMetaOnce(ctx context.Context, key, value string) (string, error)
	// Meta returns the value stored under key, "" when there is none.
	Meta(ctx context.Context, key string) (string, error)

	// UpsertResources writes every resource in one transaction, keeping
	// admin credentials and agents of existing ones.
	UpsertResources(ctx context.Context, rs []spec.Resource, agent string) error
	Resources(ctx context.Context) ([]Resource, error)
	Resource(ctx context.Context, name string) (Resource, error)
	SetAdmin(ctx context.Context, name, user, sealed, agent string) error
	// DeleteResource removes a resource and its roles' records (not its
	// sessions, which are the audit trail).
	DeleteResource(ctx context.Context, name string) error

	Roles(ctx context.Context, resource string) ([]Role, error)
	Role(ctx context.Context, resource, label string) (Role, error)
	// RoleByName finds a role by its PostgreSQL name; errs.NotFound if
	// stile declared none.
	RoleByName(ctx context.Context, roleName string) (Role, error)
	// DeleteRole forgets a retired role (its sessions stay).
	DeleteRole(ctx context.Context, resource, label string) error

	// CreateSessions records sessions (usually status running), in one
	// transaction.
	CreateSessions(ctx context.Context, s ...Session) error
	// FinishSession updates a session's status, output and end time;
	// errs.Conflict if it finished already. Every method that finishes a
	// session (or records a finished one) appends it to the audit chain in
	// the same transaction.
	FinishSession(ctx context.Context, s Session) error
	// FinishPlans finishes plan sessions and, for each that did not fail
	// and names a Role, upserts the role it planned, in one transaction.
	FinishPlans(ctx context.Context, done ...PlanFinish) error
	Session(ctx context.Context, sid string) (Session, error)
	Sessions(ctx context.Context, f SessionFilter) ([]Session, error)
	// TryLease takes the lease name for holder until until when it is
	// free, expired or holder's already, and reports whether holder has it:
	// with replicas, the one that does a periodic job.
	TryLease(ctx context.Context, name, holder string, until time.Time) (bool, error)
	// FailRunning marks as failed, with msg, the running sessions of
	// replica and those created before before (after a restart), and
	// returns how many it changed. Connections, which last as long as their
	// clients want, are among those only when connections is set (a store
	// of its own restarting: they are all gone).
	FailRunning(ctx context.Context, msg string, before time.Time, replica string, connections bool) (int, error)
	// FinishConnections finishes connect sessions and adds what each did
	// to its role's, its user's and the fleet's usage, in one transaction.
	FinishConnections(ctx context.Context, done ...ConnectionUsage) error
	// AddUsage adds finished connections' usage without touching their
	// sessions (usage catching up with connections from before it was
	// kept).
	AddUsage(ctx context.Context, done ...ConnectionUsage) error
	// UsageRecords lists the usage records of kind (UsageRole, UsageUser,
	// UsageFleet), or only name's when name is set, by name.
	UsageRecords(ctx context.Context, kind, name string) ([]UsageRecord, error)
	// LastUses lists users' last use of roles, by role and user.
	LastUses(ctx context.Context, f LastUseFilter) ([]LastUse, error)

	// SeeAddress records that token was used from addr, and reports
	// whether addr is new for it and how many other addresses it was used
	// from before.
	SeeAddress(ctx context.Context, token, addr string, at time.Time) (isNew bool, others int, err error)

	// VerifyChain walks the audit chain and reports the first session
	// edited, deleted, reordered or added outside it.
	VerifyChain(ctx context.Context) (ChainReport, error)

	// ClaimPlan marks plan planSID as consumed by apply session s and
	// records s, in one transaction. It fails with errs.Conflict if the plan
	// was applied (or is being applied) already.
	ClaimPlan(ctx context.Context, planSID string, s Session) error
	// SetPendingPassword stores a sealed pending password for a role.
	SetPendingPassword(ctx context.Context, resource, label, sealed string) error
	// FinishApply finishes an apply session, updates the role's status (and,
	// when it applied or was already in sync, makes r.Spec the role's
	// declaration) and handles its pending password, in one transaction.
	FinishApply(ctx context.Context, s Session, r Role, pw PasswordAction) error
	// PendingPasswords lists roles holding a pending password.
	PendingPasswords(ctx context.Context) ([]Role, error)
	// ResolvePending promotes or drops a role's pending password.
	ResolvePending(ctx context.Context, resource, label string, pw PasswordAction) error

	// CreateAgent registers an agent; errs.Conflict if the name is taken.
	CreateAgent(ctx context.Context, name, tokenHash string) error
	// Agents lists registered agents by name, revoked ones included.
	Agents(ctx context.Context) ([]Agent, error)
	// AgentByToken finds the unrevoked agent with this token hash, or
	// errs.NotFound.
	AgentByToken(ctx context.Context, tokenHash string) (Agent, error)
	// RevokeAgent revokes an agent's token; errs.NotFound if unknown.
	RevokeAgent(ctx context.Context, name string) error
	// TouchAgent records a heartbeat and the replica the agent is
	// connected to.
	TouchAgent(ctx context.Context, name, version, replica string, at time.Time) error
	// DisconnectAgent clears the agent's replica if it is still replica.
	DisconnectAgent(ctx context.Context, name, replica string) error

	// CreateUser adds a user; errs.Conflict if the name is taken.
	CreateUser(ctx context.Context, u User) error
	// Users lists users by name.
	Users(ctx context.Context) ([]User, error)
	// User returns one user; errs.NotFound if unknown.
	User(ctx context.Context, name string) (User, error)
	// UserBySubject returns the user the identity provider knows as
	// subject; errs.NotFound if none.
	UserBySubject(ctx context.Context, subject string) (User, error)
	// SignedIn records a sign-in through the identity provider: the
	// user's admin flag as the provider's groups say, and when.
	SignedIn(ctx context.Context, name string, admin bool, at time.Time) error
	// SetUserDisabled disables or enables a user; errs.NotFound if unknown.
	SetUserDisabled(ctx context.Context, name string, disabled bool) error
	// CreateToken stores a token of an existing user.
	CreateToken(ctx context.Context, t Token) error
	// Tokens lists a user's tokens (everyone's for ""), revoked ones too,
	// oldest first.
	Tokens(ctx context.Context, user string) ([]Token, error)
	// RevokeToken revokes a token; errs.NotFound if unknown or revoked.
	RevokeToken(ctx context.Context, id string) error
	// TokenUser returns the user of an unrevoked, unexpired token;
	// errs.NotFound otherwise (disabled users are returned, with Disabled
	// set).
	TokenUser(ctx context.Context, hash string) (User, error)
	// CreateDeviceLogin records a device login waiting for approval.
	CreateDeviceLogin(ctx context.Context, d DeviceLogin) error
	// ApproveDeviceLogin approves the pending, unexpired device login of
	// userCode for user; errs.NotFound otherwise.
	ApproveDeviceLogin(ctx context.Context, userCode, user string, now time.Time) error
	// TakeDeviceLogin returns the unexpired device login of deviceHash
	// and, when it is approved, marks it done (its token is minted once);
	// errs.NotFound if there is none, it expired or it was taken.
	TakeDeviceLogin(ctx context.Context, deviceHash string, now time.Time) (DeviceLogin, error)
	// MaskRules lists a resource role's masking rules, oldest first.
	MaskRules(ctx context.Context, role string) ([]mask.Rule, error)
	// AddMaskRule adds one; errs.Conflict if its id is taken.
	AddMaskRule(ctx context.Context, role string, r mask.Rule, at time.Time) error
	// StrictColumns returns the column patterns of every role's strict
	// rules, by role name, sorted: the planner withholds SELECT on them.
	StrictColumns(ctx context.Context) (map[string][]string, error)
	// DeleteMaskRule removes one; errs.NotFound if unknown.
	DeleteMaskRule(ctx context.Context, role, id string) error
	// Guardrails returns a role's guardrails (none when never set).
	Guardrails(ctx context.Context, role string) (guard.Policy, error)
	// SetGuardrails replaces them.
	SetGuardrails(ctx context.Context, role string, p guard.Policy) error
	// CreateGroup adds a group; errs.Conflict if it exists.
	CreateGroup(ctx context.Context, name string) error
	// Groups lists groups and their members, by name.
	Groups(ctx context.Context) (map[string][]string, error)
	// SetMember adds (in) or removes a user from a group.
	SetMember(ctx context.Context, group, user string, in bool) error
	// PutGrant grants a group the use of a resource role, or changes the
	// grant; errs.NotFound if the group does not exist.
	PutGrant(ctx context.Context, g Grant) error
	// DeleteGrant revokes it (nothing if there is none).
	DeleteGrant(ctx context.Context, role, group string) error
	// Grants lists every grant, ended ones still there included, by role
	// and group.
	Grants(ctx context.Context) ([]Grant, error)
	// EndGrants removes the grants whose Until is at or before now and
	// records session(g) for each, in one transaction, and returns them:
	// of replicas sweeping at once, exactly one ends each grant.
	EndGrants(ctx context.Context, now time.Time, session func(Grant) Session) ([]Grant, error)

	// PutRotation sets (EverySeconds > 0) or removes a role's rotation
	// schedule.
	PutRotation(ctx context.Context, r Rotation) error
	// Rotations lists the schedules, by role.
	Rotations(ctx context.Context) ([]Rotation, error)
	// RotationAttempt records a scheduled rotation's attempt and its error
	// ("" when it worked).
	RotationAttempt(ctx context.Context, role string, at time.Time, errText string) error

	// CreateCampaign records a campaign with its items, and its session.
	CreateCampaign(ctx context.Context, c Campaign, s Session) error
	// Campaigns lists campaigns, newest first, with their counts but not
	// their items.
	Campaigns(ctx context.Context) ([]Campaign, error)
	// Campaign returns one with its items; errs.NotFound if unknown.
	Campaign(ctx context.Context, id string) (Campaign, error)
	// UpdateCampaign reads campaign id and its items under a lock, lets
	// change modify them (status, closed at, decisions), and writes them,
	// deletes the grants change revokes and records its sessions, in one
	// transaction. An error from change writes nothing and is returned.
	UpdateCampaign(ctx context.Context, id string, change func(*Campaign) (revoke []Grant, sessions []Session, err error)) (Campaign, error)

	// SetPolicy sets a role's request policy.
	SetPolicy(ctx context.Context, p AccessPolicy) error
	// Policy returns a role's request policy; errs.NotFound if none was
	// set.
	Policy(ctx context.Context, role string) (AccessPolicy, error)
	// Policies lists the policies set, by role.
	Policies(ctx context.Context) ([]AccessPolicy, error)
	// CreateRequest records a request and its session, in one transaction.
	CreateRequest(ctx context.Context, r AccessRequest, s Session) error
	// Request returns one; errs.NotFound if unknown.
	Request(ctx context.Context, id string) (AccessRequest, error)
	// Requests lists those f keeps, newest first.
	Requests(ctx context.Context, f RequestFilter) ([]AccessRequest, error)
	// UpdateRequest reads request id under a lock, lets change modify it
	// (status, reviews, window, ended by) and writes it with the sessions
	// change returns, in one transaction. An error from change (ErrNoChange
	// among them) writes nothing and is returned.
	UpdateRequest(ctx context.Context, id string, change func(*AccessRequest) ([]Session, error)) (AccessRequest, error)

	// PutCancelRoutes stores routes (and drops those older than a month:
	// their connections are gone).
	PutCancelRoutes(ctx context.Context, routes ...CancelRoute) error
	// CancelRoute returns a route; errs.NotFound if unknown.
	CancelRoute(ctx context.Context, keyHash string) (CancelRoute, error)
	// DeleteCancelRoutes drops routes when their connection closes.
	DeleteCancelRoutes(ctx context.Context, keyHashes ...string) error

	// SetApprovalRequired marks a resource role as needing approval.
	SetApprovalRequired(ctx context.Context, role string, on bool) error
	// ApprovalRequired reports whether it does.
	ApprovalRequired(ctx context.Context, role string) (bool, error)
	// CreateApproval records a pending request.
	CreateApproval(ctx context.Context, a Approval) error
	// Approval returns one request; errs.NotFound if unknown.
	Approval(ctx context.Context, id string) (Approval, error)
	// Approvals lists requests with status (all when empty), newest first.
	Approvals(ctx context.Context, status string) ([]Approval, error)
	// DecideApproval moves a request from one status to another;
	// errs.Conflict if it is not in from any more.
	DecideApproval(ctx context.Context, id, from, to, by string) error

	// CreateWebSession stores a web sign-in.
	CreateWebSession(ctx context.Context, w WebSession) error
	// WebSession returns an unexpired web sign-in and extends it to
	// expires; errs.NotFound if unknown or expired.
	WebSession(ctx context.Context, idHash string, expires time.Time) (WebSession, error)
	// DeleteWebSession signs a browser out.
	DeleteWebSession(ctx context.Context, idHash string) error

	// EnqueueJob queues a job.
	EnqueueJob(ctx context.Context, j Job) error
	// ClaimJobs marks up to limit queued jobs of these agents as running
	// on replica and returns them; concurrent claimers never get the same
	// job.
	ClaimJobs(ctx context.Context, agents []string, replica string, limit int) ([]Job, error)
	// FinishJob records a job's result or error.
	FinishJob(ctx context.Context, id, result, errJSON string) error
	// Job returns one job; errs.NotFound if unknown.
	Job(ctx context.Context, id string) (Job, error)

	Close() error
}

// Dump is a store's whole content, secrets still sealed as stored: moving
// it keeps them readable with the same data key.
type Dump struct {
	Meta      map[string]string
	Resources []Resource
	Roles     []Role
	Sessions  []Session
	Agents    []Agent
	Users     []User
	Tokens    []Token
	Groups    map[string][]string
	Grants    []Grant
	Policies  []AccessPolicy
	Rotations []Rotation
	Campaigns []Campaign
	Requests  []AccessRequest
	// ApprovalRequired lists the roles whose connections need approval.
	ApprovalRequired []string
	Approvals        []Approval
	Usage            []UsageRecord
	LastUses         []LastUse
}

// Dumper is implemented by stores that can be copied whole
// (`stile migrate-store`). Load fails with errs.Conflict unless the store
// is empty, and writes everything in one transaction.
type Dumper interface {
	Dump(ctx context.Context) (Dump, error)
	Load(ctx context.Context, d Dump) error
}

// Notifier is implemented by stores that can wake waiters across replicas
// (PostgreSQL's LISTEN/NOTIFY). Listen delivers the payload of every
// notification on channel until ctx ends; the channel is closed then.
type Notifier interface {
	Listen(ctx context.Context, channel string) (<-chan string, error)
}

// Article is "an" before a session kind that starts with a vowel ("an
// apply session"), "a" otherwise.
func Article(kind string) string {
	if kind != "" && strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an"
	}
	return "a"
}
