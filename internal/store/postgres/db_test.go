package postgres

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stile-dev/stile/internal/pgtest"
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
