package metrics

import (
	"testing"
	"time"
)

// BenchmarkPlanBookkeeping is what metrics add to one planned item: a
// session counted, and its resource's duration observed.
func BenchmarkPlanBookkeeping(b *testing.B) {
	m := New()
	for b.Loop() {
		m.Session("plan", "in-sync")
		m.Plan(30 * time.Millisecond)
	}
}

// TestNilMetricsRecordNothing: a nil *Metrics takes every call.
func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Session("plan", "ok")
	m.Plan(time.Second)
	m.Apply("applied", 1)
	m.Connection("r", 1, 2)
	m.InternalError()
	m.WebhookError()
	m.Watch(nil)
}
