// Package metrics is what stile tells Prometheus: counters and histograms
// the service feeds as work ends, and gauges read from the service's state
// at each scrape. Labels are bounded sets (kinds, statuses, outcomes,
// resource and role names the fleet declares); never a sid or a person.
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stile-dev/stile/internal/version"
)

// State is the fleet as a scrape sees it, read from the service.
type State struct {
	// RolesByStatus counts declared roles by status: in-sync, out-of-sync,
	// failed, applied, never planned…
	RolesByStatus map[string]int
	// ResourcesByStage counts resources by setup stage.
	ResourcesByStage map[string]int
	// LastCheck is when each resource's roles were last planned (a drift
	// check or any plan); absent when never.
	LastCheck map[string]time.Time
	// AgentsOnline counts the agents that can take work now.
	AgentsOnline int
	// OpenConnections counts this server's relayed connections by role.
	OpenConnections map[string]int
}

// Metrics holds stile's metrics and their registry. A nil *Metrics takes
// every call and records nothing.
type Metrics struct {
	reg           *prometheus.Registry
	state         *stateCollector
	sessions      *prometheus.CounterVec
	planSeconds   prometheus.Histogram
	applySeconds  *prometheus.HistogramVec
	bytes         *prometheus.CounterVec
	internalErrs  prometheus.Counter
	webhookErrors prometheus.Counter
	signInFails   *prometheus.CounterVec
	rotations     *prometheus.CounterVec
}

// New returns stile's metrics. Until Watch gives it the fleet's state, a
// scrape has no state gauges (stile_state_up 0).
func New() *Metrics {
	m := &Metrics{
		state: &stateCollector{},
		reg:   prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stile_sessions_total", Help: "Finished sessions (health, plan, apply, connect, reveal, access, approval) by kind and status.",
		}, []string{"kind", "status"}),
		planSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stile_plan_duration_seconds", Help: "Time to plan one resource's items: one catalog read and the planner.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stile_apply_duration_seconds", Help: "Time one role's apply ran on its cluster, by outcome (applied, skipped, drift, failed).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stile_connection_bytes_total", Help: "Bytes relayed on finished connections, by resource role and direction (from_client, to_client).",
		}, []string{"role", "direction"}),
		internalErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stile_internal_errors_total", Help: "Requests that failed inside stile (store, I/O): logged under an id, shown as 'internal error'.",
		}),
		webhookErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stile_audit_webhook_errors_total", Help: "Audit events the webhook did not take after every retry.",
		}),
		signInFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stile_sign_in_failures_total", Help: "Sign-ins refused for a missing, wrong, revoked or disabled token, by where (api, web, pg).",
		}, []string{"via"}),
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stile_password_rotations_total", Help: "Password rotations by trigger (manual, scheduled) and outcome (rotated, failed, skipped: revealed and not forced).",
		}, []string{"trigger", "outcome"}),
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "stile_build_info", Help: "stile's version, commit and Go version (always 1).",
	}, []string{"version", "commit", "goversion"})
	build.WithLabelValues(version.Version, version.Commit(), runtime.Version()).Set(1)
	m.reg.MustRegister(m.sessions, m.planSeconds, m.applySeconds, m.bytes, m.internalErrs, m.webhookErrors, m.signInFails, m.rotations, build,
		m.state, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch reads the fleet's state with f at each scrape (bounded by a few
// seconds).
func (m *Metrics) Watch(f func(context.Context) (State, error)) {
	if m != nil {
		m.state.mu.Lock()
		m.state.f = f
		m.state.mu.Unlock()
	}
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Session counts a finished session.
func (m *Metrics) Session(kind, status string) {
	if m != nil {
		m.sessions.WithLabelValues(kind, status).Inc()
	}
}

// Plan observes one resource's plan.
func (m *Metrics) Plan(d time.Duration) {
	if m != nil {
		m.planSeconds.Observe(d.Seconds())
	}
}

// Apply observes one role's apply.
func (m *Metrics) Apply(outcome string, seconds float64) {
	if m != nil {
		m.applySeconds.WithLabelValues(outcome).Observe(seconds)
	}
}

// Connection counts a finished connection's bytes.
func (m *Metrics) Connection(role string, fromClient, toClient int64) {
	if m != nil {
		m.bytes.WithLabelValues(role, "from_client").Add(float64(fromClient))
		m.bytes.WithLabelValues(role, "to_client").Add(float64(toClient))
	}
}

// InternalError counts a request that failed inside stile.
func (m *Metrics) InternalError() {
	if m != nil {
		m.internalErrs.Inc()
	}
}

// WebhookError counts an audit event the webhook never took.
func (m *Metrics) WebhookError() {
	if m != nil {
		m.webhookErrors.Inc()
	}
}

// Rotation counts a password rotation by trigger and outcome.
func (m *Metrics) Rotation(trigger, outcome string) {
	if m == nil {
		return
	}
	m.rotations.WithLabelValues(trigger, outcome).Inc()
}

// SignInFailure counts a refused sign-in through via (api, web, pg).
func (m *Metrics) SignInFailure(via string) {
	if m != nil {
		m.signInFails.WithLabelValues(via).Inc()
	}
}

// stateCollector turns State into gauges at each scrape.
type stateCollector struct {
	mu sync.Mutex
	f  func(context.Context) (State, error)
}

var (
	rolesDesc     = prometheus.NewDesc("stile_roles", "Declared roles by status (in-sync, out-of-sync, failed, applied, skipped, drift, never-planned).", []string{"status"}, nil)
	resourcesDesc = prometheus.NewDesc("stile_resources", "Resources by setup stage.", []string{"stage"}, nil)
	checkDesc     = prometheus.NewDesc("stile_last_check_age_seconds", "Seconds since a resource's roles were last planned (a drift check or any plan).", []string{"resource"}, nil)
	agentsDesc    = prometheus.NewDesc("stile_agents_online", "Agents that can take work now.", nil, nil)
	connsDesc     = prometheus.NewDesc("stile_connections_open", "Connections this server relays now, by resource role.", []string{"role"}, nil)
	upDesc        = prometheus.NewDesc("stile_state_up", "1 when the scrape could read stile's state from the store, else 0.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rolesDesc, resourcesDesc, checkDesc, agentsDesc, connsDesc, upDesc} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.mu.Lock()
	f := c.f
	c.mu.Unlock()
	if f == nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	st, err := f(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for status, n := range st.RolesByStatus {
		ch <- prometheus.MustNewConstMetric(rolesDesc, prometheus.GaugeValue, float64(n), status)
	}
	for stage, n := range st.ResourcesByStage {
		ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, float64(n), stage)
	}
	now := time.Now()
	for res, at := range st.LastCheck {
		ch <- prometheus.MustNewConstMetric(checkDesc, prometheus.GaugeValue, now.Sub(at).Seconds(), res)
	}
	ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(st.AgentsOnline))
	for role, n := range st.OpenConnections {
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(n), role)
	}
}
