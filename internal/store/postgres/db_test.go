package postgres

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/storetest"
)

var seq atomic.Int64

// freshDB creates an empty database on the test cluster and returns its URL.
func freshDB(t *testing.T, c pgtest.Cluster, prefix string) string {
	name := fmt.Sprintf("%s_store%d", prefix, seq.Add(1))
	c.Exec(t, "postgres", "CREATE DATABASE "+name)
	u, _ := url.Parse(c.URL)
	u.Path = "/" + name
	return u.String()
}

func TestConformance(t *testing.T) {
	c := pgtest.First(t)
	prefix := c.Prefix(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), freshDB(t, c, prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestChain(t *testing.T) {
	c := pgtest.First(t)
	prefix := c.Prefix(t)
	storetest.RunChain(t, func(t *testing.T) storetest.Tamperable {
		u := freshDB(t, c, prefix)
		db, err := Open(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return storetest.Tamperable{Store: db, Exec: func(t *testing.T, q string) {
			t.Helper()
			if _, err := db.pool.Exec(context.Background(), strings.NewReplacer("{", "stile_", "}", "").Replace(q)); err != nil {
				t.Fatal(err)
			}
		}}
	})
}

// TestChainReplicas: two replicas finishing sessions at once build one
// chain, every session in it once.
func TestChainReplicas(t *testing.T) {
	c := pgtest.First(t)
	u := freshDB(t, c, c.Prefix(t))
	ctx := context.Background()
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	if err := dbs[0].UpsertResources(ctx, []spec.Resource{{Name: "a", Type: "postgres", Host: "h", Port: 1, Database: "postgres", SSLMode: "prefer"}}, "local"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errsCh := make(chan error, 80)
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[i%2]
			s := store.Session{SID: fmt.Sprintf("s%02d", i), Kind: "plan", Resource: "a", Actor: "admin", CreatedAt: time.Now(), Status: "running"}
			if err := db.CreateSessions(ctx, s); err != nil {
				errsCh <- err
				return
			}
			s.Status, s.FinishedAt = "in-sync", time.Now()
			errsCh <- db.FinishSession(ctx, s)
		}()
	}
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := dbs[1].VerifyChain(ctx)
	if err != nil || !rep.OK || rep.Sessions != 80 {
		t.Fatalf("verify = %+v, %v; want 80 sessions in one chain", rep, err)
	}
}

// TestReplicasMigrateOnce opens the store from several "replicas" at once:
// the advisory lock makes exactly one of them apply the migrations.
func TestReplicasMigrateOnce(t *testing.T) {
	c := pgtest.First(t)
	u := freshDB(t, c, c.Prefix(t))
	var wg sync.WaitGroup
	errsCh := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), u)
			if err == nil {
				db.Close()
			}
			errsCh <- err
		}()
	}
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
}
