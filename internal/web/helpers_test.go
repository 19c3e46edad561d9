package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/agent/runner"
	"github.com/stile-dev/stile/internal/proxy"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
	"github.com/stile-dev/stile/internal/target"
)

func hash8(resource, label string) string {
	sum := sha256.Sum256([]byte(resource + ":" + label))
	return hex.EncodeToString(sum[:])[:8]
}

// startStile runs the real server wiring (SQLite store, built-in agent, API
// and web app on one listener).
func startStile(t *testing.T) string {
	return startStileStore(t).base
}

// stileServer is a server started by startStileStore: its URL, service and
// store (a SQLite file at dbPath).
type stileServer struct {
	base   string
	svc    *service.Services
	store  store.Store
	dbPath string
}

// startStileStore is startStile that also returns the service and store.
func startStileStore(t *testing.T) stileServer { return startStileWith(t, nil) }

// startStileWith is startStileStore with conf changing the service's
// configuration first (nil: none).
func startStileWith(t *testing.T, conf func(*service.Config)) stileServer {
	dbPath := filepath.Join(t.TempDir(), "stile.db")
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, secret.KeySize)
	box, _ := secret.NewBox(key)
	cfg := service.Config{Store: st, Box: box, Agents: []agent.Agent{runner.Local{}}, RolePrefix: "stile", AdminToken: token}
	if conf != nil {
		conf(&cfg)
	}
	svc, err := service.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(srv.Close)
	return stileServer{base: srv.URL, svc: svc, store: st, dbPath: dbPath}
}

// manageResource puts cluster tg in the inventory as resource name, with
// its superuser as the admin.
func manageResource(t *testing.T, svc *service.Services, name string, tg target.Target) {
	t.Helper()
	ctx := context.Background()
	if _, err := svc.Inventory.ImportResources(ctx, service.Admin, fmt.Appendf(nil, "name,type,host,port,sslmode\n%s,postgres,%s,%d,disable\n", name, tg.Host, tg.Port), false); err != nil {
		t.Fatal(err)
	}
	if err := svc.Inventory.SetAdmin(ctx, service.Admin, spec.Admin{Resource: name, User: tg.User, Password: tg.Password}, ""); err != nil {
		t.Fatal(err)
	}
}

// applyRole plans and applies r, and returns its role name.
func applyRole(t *testing.T, svc *service.Services, r spec.Role) string {
	t.Helper()
	ctx := context.Background()
	out, err := svc.Provisioning.Plan(ctx, service.Principal{User: "admin", Admin: true}, []spec.Role{r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Provisioning.Apply(ctx, service.Principal{User: "admin", Admin: true}, r.Resource, out[0].SID); err != nil {
		t.Fatal(err)
	}
	return out[0].RoleName
}

// serveListener serves svc's PostgreSQL listener (plain, loopback) until
// the test ends, and returns its host and port.
func serveListener(t *testing.T, svc *service.Services) (host, port string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go (&proxy.Listener{Open: svc.Connections.OpenUpstream}).Serve(ctx, ln)
	host, port, _ = net.SplitHostPort(ln.Addr().String())
	return host, port
}
