package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stile-dev/stile/internal/agent"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/server"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/sqlite"
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
	svc    *service.Service
	store  store.Store
	dbPath string
}

// startStileStore is startStile that also returns the service and store.
func startStileStore(t *testing.T) stileServer {
	dbPath := filepath.Join(t.TempDir(), "stile.db")
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, secret.KeySize)
	box, _ := secret.NewBox(key)
	svc, err := service.New(context.Background(), service.Config{Store: st, Box: box, Agents: []agent.Agent{agent.Local{}}, RolePrefix: "stile", AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(svc, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(srv.Close)
	return stileServer{base: srv.URL, svc: svc, store: st, dbPath: dbPath}
}
