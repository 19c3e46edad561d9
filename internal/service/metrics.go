package service

import (
	"context"
	"time"

	"github.com/stile-dev/stile/internal/metrics"
	"github.com/stile-dev/stile/internal/store"
)

// emit exports a finished session (audit) and counts it (metrics). The
// exported event carries the session's place in the audit chain, which the
// store gave it as it finished: it is read back for that.
func (s *core) emit(sess store.Session) {
	if s.audit.Exports() && sess.ChainHash == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if got, err := s.store.Session(ctx, sess.SID); err == nil {
			sess = got
		}
		cancel()
	}
	s.audit.Emit(sess)
	s.metrics.Session(sess.Kind, sess.Status)
}

// Metrics returns the service's metrics, for /metrics.
func (s *Reporting) Metrics() *metrics.Metrics { return s.metrics }

// metricsState reads the fleet's state for a scrape: roles by status,
// resources by stage, when each resource was last planned, agents online
// and this server's open connections.
func (s *Reporting) metricsState(ctx context.Context) (metrics.State, error) {
	st := metrics.State{RolesByStatus: map[string]int{}, ResourcesByStage: map[string]int{}, LastCheck: map[string]time.Time{}, OpenConnections: map[string]int{}}
	roles, err := s.store.Roles(ctx, "")
	if err != nil {
		return st, err
	}
	for _, r := range roles {
		status := r.Status
		if r.LastPlanSID == "" || status == "" {
			status = "never-planned"
		}
		st.RolesByStatus[status]++
	}
	resources, err := s.inventory.ListResources(ctx, system("metrics"))
	if err != nil {
		return st, err
	}
	for _, r := range resources {
		st.ResourcesByStage[r.Stage]++
		last, err := s.store.Sessions(ctx, store.SessionFilter{Resource: r.Name, Kind: store.KindPlan, Limit: 1})
		if err != nil {
			return st, err
		}
		if len(last) > 0 && !last[0].FinishedAt.IsZero() {
			st.LastCheck[r.Name] = last[0].FinishedAt
		}
	}
	agents, err := s.inventory.Agents(ctx, system("metrics"))
	if err != nil {
		return st, err
	}
	for _, a := range agents {
		if a.Online && !a.Revoked {
			st.AgentsOnline++
		}
	}
	for _, c := range s.connections.conns.list() {
		st.OpenConnections[c.sess.Role]++
	}
	return st, nil
}
