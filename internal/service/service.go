// Package service is stile's application layer: inventory, admin
// credentials, health checks, plans, applies, sessions, people and access,
// connections; and authentication (Authenticate) and what a principal may
// see. The HTTP API, the web app and the PostgreSQL listener call it; it
// talks to the store and to agents.
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

// Config wires a Service.
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
	// HTTPClient reaches the identity provider (nil: a default with a
	// timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Service implements stile's operations. It is safe for concurrent use.
type Service struct {
	store  store.Store
	box    *secret.Box
	agents map[string]agent.Agent
	prefix string
	// adminToken authenticates as Admin (Authenticate).
	adminToken string
	lockDB     string
	shared     bool
	replica    string
	// planTimeout and applyTimeout bound each job.
	planTimeout, applyTimeout time.Duration
	applyParallel             int
	consoleTimeout            time.Duration
	hub                       *hub.Hub
	audit                     *audit.Exporter
	metrics                   *metrics.Metrics
	conns                     openConns
	signIns                   signIns
	oidc                      *OIDCConfig
	oidcClient                oidcClient
	oidcHTTP                  *http.Client
	masking                   masking
	log                       *slog.Logger
	now                       func() time.Time
}

// New returns a Service. It fails with errs.Conflict when cfg.RolePrefix
// differs from the prefix stored at first use: changing it would orphan
// every role stile made.
func New(ctx context.Context, cfg Config) (*Service, error) {
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
	s := &Service{
		store:          cfg.Store,
		box:            cfg.Box,
		agents:         map[string]agent.Agent{},
		prefix:         cfg.RolePrefix,
		adminToken:     cfg.AdminToken,
		lockDB:         cfg.LockDatabase,
		shared:         cfg.SharedStore,
		replica:        cfg.Replica,
		planTimeout:    cmp.Or(cfg.PlanTimeout, DefaultPlanTimeout),
		applyTimeout:   cmp.Or(cfg.ApplyTimeout, DefaultApplyTimeout),
		applyParallel:  cmp.Or(max(cfg.ApplyParallel, 0), DefaultApplyParallel),
		consoleTimeout: cmp.Or(max(cfg.ConsoleTimeout, 0), DefaultConsoleTimeout),
		hub:            cfg.Hub,
		audit:          cfg.Audit,
		metrics:        cmp.Or(cfg.Metrics, metrics.New()),
		log:            cfg.Logger,
		now:            func() time.Time { return time.Now().UTC() },
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.signIns.limit = cmp.Or(cfg.SignInFailures, DefaultSignInFailures)
	s.masking.checker = guard.NewChecker()
	s.oidc, s.oidcHTTP = cfg.OIDC, cfg.HTTPClient
	if s.oidcHTTP == nil {
		s.oidcHTTP = &http.Client{Timeout: 15 * time.Second}
	}
	for _, a := range cfg.Agents {
		s.agents[a.Name()] = a
	}
	s.metrics.Watch(s.metricsState)
	return s, nil
}

// RolePrefix returns the fixed role prefix.
func (s *Service) RolePrefix() string { return s.prefix }

func (s *Service) agent(name string) (agent.Agent, error) {
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
func (s *Service) target(r store.Resource) (target.Target, error) {
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
