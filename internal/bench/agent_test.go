package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/hub"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store/sqlite"
	"github.com/stile-dev/stile/internal/target"
)

// BenchmarkAgentHop runs 1,000 health checks and 200 plans on one cluster
// through the built-in agent and through a remote agent connected over a
// WebSocket, and reports throughput and p50/p99 latency of each.
func BenchmarkAgentHop(b *testing.B) {
	c := pgtest.First(b)
	p := c.Prefix(b)
	tg := c.Target()
	c.Exec(b, "postgres", "CREATE DATABASE "+p+"_app")
	c.Exec(b, p+"_app", "CREATE TABLE t1 (id serial primary key)", "CREATE TABLE t2 (id int)")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "stile.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	log := slog.New(slog.DiscardHandler)
	// One idle pool for both agents, as when they shared the process's.
	pool := target.NewPool(target.DefaultIdleTimeout, target.DefaultIdleMax)
	defer pool.Close()
	hub := hub.New(st, box, false, "bench", log)
	svc, err := service.New(ctx, service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{Pool: pool}}, Hub: hub, RolePrefix: "stile", AdminToken: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, log, hub))
	defer srv.Close()
	token, err := svc.Inventory.CreateAgent(ctx, service.Admin, "remote")
	if err != nil {
		b.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go runner.DialWith(actx, srv.URL, token, nil, runner.Local{Pool: pool}, log)
	for !hub.Online(ctx, "remote") {
		time.Sleep(10 * time.Millisecond)
	}
	for _, ag := range []string{"local", "remote"} {
		res := p + "_" + ag
		csv := fmt.Sprintf("name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", res, tg.Host, tg.Port)
		if _, err := svc.Inventory.ImportResources(ctx, service.Admin, []byte(csv), false); err != nil {
			b.Fatal(err)
		}
		if err := svc.Inventory.SetAdmin(ctx, service.Admin, spec.Admin{Resource: res, User: tg.User, Password: tg.Password}, ag); err != nil {
			b.Fatal(err)
		}
	}
	for _, ag := range []string{"local", "remote"} {
		res := p + "_" + ag
		b.Run("1000_health_"+ag, func(b *testing.B) {
			for b.Loop() {
				lat, wall := measure(b, 1000, 8, func(int) error {
					_, err := svc.Inventory.Health(ctx, service.Principal{User: "bench", Admin: true}, res)
					return err
				})
				report(b, lat, wall)
			}
		})
		b.Run("200_plans_"+ag, func(b *testing.B) {
			for b.Loop() {
				lat, wall := measure(b, 200, 4, func(i int) error {
					_, err := svc.Provisioning.Plan(ctx, service.Principal{User: "bench", Admin: true}, []spec.Role{{Resource: res, Label: fmt.Sprintf("l%d", i%20), Scopes: []string{p + "_app"}, Privileges: []string{"SELECT"}}})
					return err
				})
				report(b, lat, wall)
			}
		})
	}
}

// measure runs n calls on workers goroutines and returns each latency and
// the wall time.
func measure(b *testing.B, n, workers int, call func(i int) error) ([]time.Duration, time.Duration) {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	next := make(chan int)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := call(i); err != nil {
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat, time.Since(start)
}

func report(b *testing.B, lat []time.Duration, wall time.Duration) {
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(lat))/wall.Seconds(), "ops/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
