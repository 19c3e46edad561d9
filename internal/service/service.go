// Package service is stile's application layer, one service per noun
// (Services): Inventory, Provisioning, Access, SignIn, Connections, Masking
// and Reporting, over a shared core (the store, the data key, the agents).
// Every operation takes the Principal it acts for and decides there
// whether it may: the HTTP API, the web app and the PostgreSQL listener
// only authenticate (SignIn.Authenticate) and call it.
package service

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/hub"
	"github.com/stile-dev/stile/internal/audit"
	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/guard"
	"github.com/stile-dev/stile/internal/metrics"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/target"
)

// Config wires the Services.
type Config struct {
	Store  store.Store
	Box    *secret.Box
	Agents []agent.Agent
	// Hub reaches the remote agents connected to this server; nil means
	// built-in agents only.
	Hub *hub.Hub
	// RolePrefix starts every generated role name; it is fixed at first use.
	RolePrefix string
	// AdminToken is the admin API token: it authenticates as Admin on the
	// API, the web sign-in and the PostgreSQL listener.
	AdminToken string
	// LockDatabase is where applies take the per-cluster advisory lock.
	LockDatabase string
	// SharedStore reports that other server replicas use the same store:
	// after a restart, only sessions older than the job timeout are
	// presumed dead.
	SharedStore bool
	// Replica names this server among replicas, stably across restarts
	// (its sessions are failed at once when it restarts).
	Replica string
	// PlanTimeout and ApplyTimeout bound each job (an apply batch's job on
	// one cluster); zero means the default.
	PlanTimeout, ApplyTimeout time.Duration
	// ConsoleTimeout bounds each web console run; zero means
	// DefaultConsoleTimeout.
	ConsoleTimeout time.Duration
	// ApplyParallel is how many clusters a batch apply works on at once;
	// zero means DefaultApplyParallel.
	ApplyParallel int
	// Audit exports finished sessions; nil exports nothing.
	Audit *audit.Exporter
	// Metrics counts what the service does and reads its state at each
	// scrape; nil makes the service its own.
	Metrics *metrics.Metrics
	// SignInFailures from one source within a minute raise an alert; zero
	// means DefaultSignInFailures, negative never.
	SignInFailures int
	// OIDC, when set, lets people sign in to the web app with the
	// company's identity provider.
	OIDC *OIDCConfig
	// NotifyWebhook, when set, receives a Slack-compatible message for
	// every access request made and decided, with links to PublicURL's
	// request page.
	NotifyWebhook, PublicURL string
	// HTTPClient reaches the identity provider and the notification
	// webhook (nil: a default with a timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// core is what every service shares: the store, the data key, the agents,
// the clock, the log, the metrics and the audit export. It holds no state of
// its own noun; each service keeps its own (open connections, sign-in
// failures, masking caches).
type core struct {
	store  store.Store
	box    *secret.Box
	agents map[string]agent.Agent
	hub    *hub.Hub
	prefix string
	lockDB string
	// shared and replica: other replicas use the same store.
	shared  bool
	replica string
	audit   *audit.Exporter
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
}

// Services is stile's application layer, one service per noun. Every
// exported operation takes the Principal it acts for and decides, next to
// its data, whether that principal may (authorize); the HTTP API, the web
// app and the PostgreSQL listener only authenticate. Errors follow one
// contract: an *errs.Error with a code (Invalid, NotFound, Conflict,
// Unauthorized, Forbidden, Drift, Unavailable) says what the caller may be
// told; any other error is internal, logged and never shown.
type Services struct {
	Inventory    *Inventory
	Provisioning *Provisioning
	Access       *Access
	SignIn       *SignIn
	Connections  *Connections
	Masking      *Masking
	Reporting    *Reporting
	Requests     *Requests
	Rotation     *Rotation
	Campaigns    *Campaigns
}

// New returns the services, wired to each other. It fails with
// errs.Conflict when cfg.RolePrefix differs from the prefix stored at
// first use: changing it would orphan every role stile made.
func New(ctx context.Context, cfg Config) (*Services, error) {
	if err := spec.ValidPrefix(cfg.RolePrefix); err != nil {
		return nil, err
	}
	stored, err := cfg.Store.SetMetaOnce(ctx, "role_prefix", cfg.RolePrefix)
	if err != nil {
		return nil, fmt.Errorf("role prefix: %w", err)
	}
	if stored != cfg.RolePrefix {
		return nil, errs.New(errs.Conflict, "role prefix is %q since first use; it cannot change to %q (every role would be orphaned)", stored, cfg.RolePrefix)
	}
	c := &core{
		store:   cfg.Store,
		box:     cfg.Box,
		agents:  map[string]agent.Agent{},
		hub:     cfg.Hub,
		prefix:  cfg.RolePrefix,
		lockDB:  cfg.LockDatabase,
		shared:  cfg.SharedStore,
		replica: cfg.Replica,
		audit:   cfg.Audit,
		metrics: cmp.Or(cfg.Metrics, metrics.New()),
		log:     cfg.Logger,
		now:     func() time.Time { return time.Now().UTC() },
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	for _, a := range cfg.Agents {
		c.agents[a.Name()] = a
	}
	oidcHTTP := cfg.HTTPClient
	if oidcHTTP == nil {
		oidcHTTP = &http.Client{Timeout: 15 * time.Second}
	}
	s := &Services{
		Inventory:    &Inventory{core: c},
		Provisioning: &Provisioning{core: c, planTimeout: cmp.Or(cfg.PlanTimeout, DefaultPlanTimeout), applyTimeout: cmp.Or(cfg.ApplyTimeout, DefaultApplyTimeout), applyParallel: cmp.Or(max(cfg.ApplyParallel, 0), DefaultApplyParallel)},
		Access:       &Access{core: c},
		SignIn:       &SignIn{core: c, adminToken: cfg.AdminToken, oidc: cfg.OIDC, oidcHTTP: oidcHTTP},
		Connections:  &Connections{core: c, consoleTimeout: cmp.Or(max(cfg.ConsoleTimeout, 0), DefaultConsoleTimeout)},
		Masking:      &Masking{core: c},
		Reporting:    &Reporting{core: c},
		Rotation:     &Rotation{core: c},
		Campaigns:    &Campaigns{core: c},
		Requests:     &Requests{core: c, notify: newNotifier(cfg.NotifyWebhook, cfg.PublicURL, oidcHTTP, c.log)},
	}
	s.SignIn.signIns.limit = cmp.Or(cfg.SignInFailures, DefaultSignInFailures)
	s.Masking.masking.checker = guard.NewChecker()
	s.Provisioning.access, s.Provisioning.masking = s.Access, s.Masking
	s.Access.connections = s.Connections
	s.Requests.access, s.Requests.connections = s.Access, s.Connections
	s.Rotation.provisioning = s.Provisioning
	s.Campaigns.connections = s.Connections
	s.SignIn.access = s.Access
	s.Connections.access, s.Connections.masking, s.Connections.signIn = s.Access, s.Masking, s.SignIn
	s.Masking.connections, s.Masking.signIn = s.Connections, s.SignIn
	s.Reporting.inventory, s.Reporting.provisioning, s.Reporting.masking, s.Reporting.connections = s.Inventory, s.Provisioning, s.Masking, s.Connections
	c.metrics.Watch(s.Reporting.metricsState)
	return s, nil
}

// Inventory is the fleet: resources (the PostgreSQL servers), their admin
// credentials, health checks and remote agents. Admin only.
//
// Errors: errs.Forbidden (a member) or errs.Unauthorized (no one) before
// anything is read; errs.Invalid for a CSV, a row or a name it refuses
// (nothing is written then), errs.NotFound for a resource or agent not in
// the inventory, errs.Conflict for an agent name taken; an admin credential
// that does not work is errs.Invalid with PostgreSQL's reason.
type Inventory struct {
	*core
}

// Provisioning is declared roles: previews, plans, applies, the drift
// check, the roles stile made, reveals and retirement. Admin only.
//
// Errors: errs.Forbidden or errs.Unauthorized first; errs.Invalid for a
// declaration it refuses (the whole batch, before any catalog is read),
// errs.NotFound for an unknown plan, resource or role, errs.Conflict for a
// plan applied already or an apply of the role under way, errs.Drift when
// the cluster changed since the plan (nothing ran), errs.Unavailable when
// the resource's agent is offline. A plan or apply that ran and failed on
// the cluster is not an error: its outcome says so, with its session.
type Provisioning struct {
	*core
	access  *Access
	masking *Masking
	// planTimeout and applyTimeout bound each job.
	planTimeout, applyTimeout time.Duration
	applyParallel             int
}

// Access is who may use what: people, their tokens, groups, grants and
// approvals.
//
// Errors: errs.Forbidden or errs.Unauthorized first (a member may only ask
// about roles they may use: others are errs.NotFound, as if they did not
// exist); errs.Invalid for a name it refuses, errs.NotFound for an unknown
// user, group, token or approval, errs.Conflict for a name taken or a
// decision already made.
type Access struct {
	*core
	connections *Connections
}

// Requests is access that ends on its own: each role's request policy,
// members' requests for a window on roles they are eligible for, their
// review by approvers, and the end of windows, pending requests and grants
// when their time comes.
//
// Errors: errs.Unauthorized for no one; errs.Forbidden for an
// administrators' operation or a review by someone who is not an approver
// (or reviews their own request); errs.Invalid for a window, reason or
// policy the policy or stile refuses; errs.NotFound for an unknown request
// or role, or one the principal may not see; errs.Conflict for a request
// decided, expired or reviewed by them already.
type Requests struct {
	*core
	access      *Access
	connections *Connections
	notify      *notifier
}

// SignIn authenticates: API tokens, web sessions, OIDC and the CLI's
// device and browser sign-ins, and the alerts on failed sign-ins.
//
// Errors: errs.Unauthorized for any token, cookie, code or identity it does
// not accept, with no hint which part was wrong (a disabled user is told
// so); errs.Invalid for a malformed request; errs.Forbidden for the admin
// token approving a CLI sign-in (it is not a person); errs.Conflict
// (ErrPending) for a device sign-in still waiting; errs.Unavailable when
// the identity provider cannot be reached.
type SignIn struct {
	*core
	access *Access
	// adminToken authenticates as Admin (Authenticate).
	adminToken string
	signIns    signIns
	oidc       *OIDCConfig
	oidcClient oidcClient
	oidcHTTP   *http.Client
}

// Connections is people using roles: stile connect, the PostgreSQL
// listener, the web console, cancels, and closing connections whose
// access ended.
//
// Errors: errs.Forbidden for a role the principal may not use and for an
// approval denied or timed out, errs.Unauthorized for a bad token (the
// listener's password), errs.NotFound for an unknown role,
// errs.Unavailable when the agent is offline or cannot apply the role's
// masking, errs.Invalid for a console request it refuses. What the
// guardrails refuse is answered on the wire (SQLSTATE 42501), not here.
type Connections struct {
	*core
	access         *Access
	masking        *Masking
	signIn         *SignIn
	consoleTimeout time.Duration
	conns          openConns
}

// Masking is what a connection may read and run: masking rules,
// guardrails, and the masking check that proves them on every path.
// Admin only, but for the filters it builds for Connections.
//
// Errors: errs.Forbidden or errs.Unauthorized first; errs.Invalid for a
// rule or policy it refuses, errs.NotFound for an unknown role or rule. A
// masking check that finds a leak is not an error: its result says so.
type Masking struct {
	*core
	connections *Connections
	signIn      *SignIn
	masking     masking
}

// Reporting is what happened: sessions and the audit chain, usage, the
// access report, the fleet view and metrics.
//
// Errors: errs.Forbidden or errs.Unauthorized first (sessions: a member
// sees their own connections and reveals, MaySee, and errs.Forbidden for
// another's); errs.Invalid for a window or filter it refuses, errs.NotFound
// for an unknown session. A broken audit chain is a report, not an error.
type Reporting struct {
	*core
	inventory    *Inventory
	provisioning *Provisioning
	masking      *Masking
	connections  *Connections
}

// RolePrefix returns the fixed role prefix.
func (s *Provisioning) RolePrefix() string { return s.prefix }

func (s *core) agent(name string) (agent.Agent, error) {
	if a, ok := s.agents[name]; ok {
		return a, nil
	}
	if s.hub != nil {
		list, err := s.store.Agents(context.Background())
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			if a.Name != name || !a.RevokedAt.IsZero() {
				continue
			}
			r := s.hub.Remote(name)
			if !r.Online() {
				return nil, errs.New(errs.Unavailable, "agent %s is offline", name)
			}
			return r, nil
		}
	}
	return nil, errs.Invalidf("agent %q does not exist", name)
}

// target opens a resource's admin credential into a connection target.
func (s *core) target(r store.Resource) (target.Target, error) {
	if r.AdminUser == "" || r.AdminSecret == "" {
		return target.Target{}, errs.Invalidf("resource %q has no admin credentials: run stile resources admin set %s", r.Name, r.Name)
	}
	pw, err := s.box.Open(r.AdminSecret, adminAD(r.Name))
	if err != nil {
		return target.Target{}, fmt.Errorf("admin credential of %s: %w", r.Name, err)
	}
	return target.Target{
		Host: r.Host, Port: r.Port, Database: r.Database, SSLMode: r.SSLMode,
		User: r.AdminUser, Password: pw, LockDatabase: s.lockDB,
	}, nil
}

// Default job timeouts: a plan or apply running longer is cancelled and
// fails.
const (
	DefaultPlanTimeout  = 10 * time.Minute
	DefaultApplyTimeout = 30 * time.Minute
)

// maskKeyAD binds the sealed masking key to its use.
const maskKeyAD = "stile mask key"

func adminAD(resource string) string           { return "admin:" + resource }
func passwordAD(resource, label string) string { return "role:" + resource + ":" + label }

// newSID returns a random UUID (version 4).
func newSID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
