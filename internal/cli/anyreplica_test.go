package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/proxy"
)

// TestCancelOnAnyReplica: behind a load balancer a cancel request reaches
// whichever replica it likes. Replicas A and B share a PostgreSQL store;
// connections are opened on A and their cancel requests sent to B: a
// PostgreSQL CancelRequest to B's listener, and the cancel-token call
// stile connect makes to B's API. Both reach the query on A's connection;
// another user's token is told there is no such connection.
func TestCancelOnAnyReplica(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	tg := c.Target()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)
	data := t.TempDir()
	pgA, pgB := freeAddr(t), freeAddr(t)
	a := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "args": "--pg-listen " + pgA})
	b := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "args": "--pg-listen " + pgB})
	res := p + "_r"
	a.addResource(res, tg)
	doc := a.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	a.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")
	raw, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	admin := strings.TrimSpace(string(raw))

	// The server listener: connected on A, cancelled through B.
	cfg, _ := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s_app?sslmode=require", role, pgA, p))
	cfg.Password = admin
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect to A's listener: %v", err)
	}
	defer conn.Close(context.Background())
	assertCancelsWith(t, c, conn, func() error {
		return proxy.SendCancel(context.Background(), pgB, conn.PgConn().PID(), conn.PgConn().SecretKey())
	})

	// stile connect's road: the WebSocket on A, the cancel token to B.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(a.vars["STILE_URL"], "http")+"/api/v1/connect?role="+role+"&database="+p+"_app",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + admin}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, data0, err := ws.Read(ctx)
	var hello proxy.Hello
	if err != nil || json.Unmarshal(data0, &hello) != nil || hello.CancelToken == "" {
		t.Fatalf("hello from A: %v %s", err, data0)
	}
	nc := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	fe := pgproto3.NewFrontend(nc, nc)
	query := "SELECT pg_sleep(30) -- through A's WebSocket"
	fe.Send(&pgproto3.Query{String: query})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, query)

	b.ok("", "users", "create", "eve")
	eve := b.ok("", "tokens", "create", "eve")
	eveToken := eve[strings.LastIndex(strings.TrimSpace(eve), "\n")+1:]
	if code := postCancel(t, b.vars["STILE_URL"], strings.TrimSpace(eveToken), hello.CancelToken); code != http.StatusNotFound {
		t.Fatalf("another user cancelling through B: %d, want 404 (no such connection)", code)
	}
	if code := postCancel(t, b.vars["STILE_URL"], admin, hello.CancelToken); code != http.StatusNoContent {
		t.Fatalf("cancel through B: %d, want 204", code)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatalf("reading the cancelled query's answer: %v", err)
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			if e.Code != "57014" {
				t.Fatalf("the query ended with %s %s, want 57014", e.Code, e.Message)
			}
			break
		}
	}
}

// TestDisableOnAnyReplica: a member's connection is open on replica A and
// an admin disables her on replica B; A closes the connection within its
// enforcement interval.
func TestDisableOnAnyReplica(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_app")
	storeURL := sharedStore(t, c, p)
	data := t.TempDir()
	pgA := freeAddr(t)
	a := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL, "args": "--pg-listen " + pgA})
	b := startServerWith(t, data, map[string]string{"STILE_STORE": storeURL})
	res := p + "_r"
	a.addResource(res, c.Target())
	doc := a.ok("", "resources", "plan", res, "--role", "ro", "--scopes", p+"_app", "--privileges", "SELECT")
	a.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
	role := field(doc, "role_name")
	a.ok("", "users", "create", "ida")
	out := a.ok("", "tokens", "create", "ida")
	token := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
	a.ok("", "groups", "create", "ops")
	a.ok("", "groups", "add", "ops", "ida")
	a.ok("", "access", "grant", role, "--group", "ops")

	cfg, _ := pgx.ParseConfig(fmt.Sprintf("postgres://%s@%s/%s_app?sslmode=require", role, pgA, p))
	cfg.Password = strings.TrimSpace(token)
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("ida connecting through A: %v", err)
	}
	defer conn.Close(context.Background())
	b.ok("", "users", "disable", "ida")
	waitClosed(t, conn, "a connection on A of a user disabled on B", 10*time.Second)
}

// sharedStore creates database p_store on c for replicas to share and
// returns its URL.
func sharedStore(t *testing.T, c pgtest.Cluster, p string) string {
	t.Helper()
	c.Exec(t, "postgres", "CREATE DATABASE "+p+"_store")
	return databaseURL(t, c, p+"_store")
}

// waitActive waits until query runs on the cluster.
func waitActive(t *testing.T, c pgtest.Cluster, query string) {
	t.Helper()
	watch := c.Conn(t, "postgres")
	for i := 0; ; i++ {
		var running bool
		watch.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query = $1 AND state = 'active')", query).Scan(&running)
		if running {
			return
		}
		if i > 500 {
			t.Fatal("the query never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func postCancel(t *testing.T, base, token, cancelToken string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"cancel_token": cancelToken})
	req, _ := http.NewRequest("POST", base+"/api/v1/connections/cancel", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
