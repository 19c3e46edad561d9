package service

import (
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/metrics"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/spec"
)

// scrape reads svc's metrics as Prometheus would, with its text parser.
func scrape(t *testing.T, svc *Services) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	svc.Reporting.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include labels (name=value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && have[labels[i]] == labels[i+1]
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics scrapes /metrics after a plan, an apply, a plan whose apply
// is refused for drift and a connection, and checks the values.
func TestMetrics(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_a")
	c.Exec(t, p+"_a", "CREATE TABLE public.t (id int)")
	svc := serviceWithResource(t, p, tg)
	ctx := context.Background()
	ro := spec.Role{Resource: p, Label: "ro", Scopes: []string{p + "_a"}, Privileges: []string{"SELECT"}}
	out, err := svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{ro})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err != nil {
		t.Fatal(err)
	}
	more := ro
	more.Privileges = []string{"SELECT", "INSERT"}
	out, err = svc.Provisioning.Plan(ctx, Principal{User: "test", Admin: true}, []spec.Role{more})
	if err != nil {
		t.Fatal(err)
	}
	c.Exec(t, p+"_a", `GRANT DELETE ON public.t TO "`+out[0].RoleName+`"`)
	if _, err := svc.Provisioning.Apply(ctx, Principal{User: "test", Admin: true}, p, out[0].SID); err == nil {
		t.Fatal("the drifted apply went through")
	}
	conn, err := svc.Connections.Connect(ctx, Principal{User: "admin", Admin: true}, out[0].RoleName, p+"_a")
	if err != nil {
		t.Fatal(err)
	}
	svc.Connections.Finish(ctx, conn, proxy.Stats{BytesIn: 100, BytesOut: 250})
	svc.SignIn.Authenticate(WithSource(ctx, "192.0.2.1:5000", "pg"), "wrong")

	fams := scrape(t, svc)
	role := out[0].RoleName
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"stile_sessions_total", []string{"kind", "plan", "status", "out-of-sync"}, 2},
		{"stile_sessions_total", []string{"kind", "apply", "status", "applied"}, 1},
		{"stile_sessions_total", []string{"kind", "apply", "status", "drift"}, 1},
		{"stile_sessions_total", []string{"kind", "connect", "status", "ok"}, 1},
		{"stile_plan_duration_seconds", nil, 2},
		{"stile_apply_duration_seconds", []string{"outcome", "applied"}, 1},
		{"stile_apply_duration_seconds", []string{"outcome", "drift"}, 1},
		{"stile_connection_bytes_total", []string{"role", role, "direction", "from_client"}, 100},
		{"stile_connection_bytes_total", []string{"role", role, "direction", "to_client"}, 250},
		{"stile_agents_online", nil, 1},
		{"stile_sign_in_failures_total", []string{"via", "pg"}, 1},
		{"stile_state_up", nil, 1},
		{"stile_build_info", []string{"version", "dev"}, 1},
	} {
		if got, ok := value(fams, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	roles := 0.0
	for _, m := range fams["stile_roles"].GetMetric() {
		roles += m.GetGauge().GetValue()
	}
	if roles != 1 {
		t.Errorf("stile_roles sums to %v, want 1 declared role", roles)
	}
	if age, ok := value(fams, "stile_last_check_age_seconds", "resource", p); !ok || age < 0 || age > 60 {
		t.Errorf("stile_last_check_age_seconds{resource=%q} = %v (present %v)", p, age, ok)
	}
	if _, ok := value(fams, "stile_connections_open", "role", role); ok {
		t.Error("a finished connection still counts as open")
	}
}

// TestDashboardNamesExist: every stile_ metric the sample Grafana dashboard
// queries is one /metrics serves.
func TestDashboardNamesExist(t *testing.T) {
	data, err := os.ReadFile("../../deploy/helm/stile/dashboards/stile.json")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := newService(t, t.TempDir(), "stile", runner.Local{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Reporting.metrics.Apply("applied", 0.1)
	svc.Reporting.metrics.Plan(0)
	svc.Reporting.metrics.Connection("r", 1, 1)
	svc.Reporting.metrics.Session("plan", "in-sync")
	svc.Reporting.metrics.InternalError()
	svc.Reporting.metrics.WebhookError()
	// One series of each state gauge.
	svc.Reporting.metrics.Watch(func(context.Context) (metrics.State, error) {
		return metrics.State{RolesByStatus: map[string]int{"in-sync": 1}, ResourcesByStage: map[string]int{"ready": 1},
			LastCheck: map[string]time.Time{"db": time.Now()}, AgentsOnline: 1, OpenConnections: map[string]int{"r": 1}}, nil
	})
	fams := scrape(t, svc)
	names := regexp.MustCompile(`stile_[a-z_]+`).FindAllString(string(data), -1)
	if len(names) == 0 {
		t.Fatal("the dashboard queries no stile_ metric")
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count")
		if fams[base] == nil {
			t.Errorf("the dashboard queries %s, which /metrics does not serve", n)
		}
	}
}
