// Package oidctest runs a real OpenID Provider for tests: zitadel/oidc's
// provider (op) with its example in-memory storage and login page, served
// over HTTP, signing real tokens. Users sign in with a username and
// password on the provider's own page; their groups, which a test may
// change at any time, are the "groups" claim of their ID token and of the
// userinfo endpoint. Only tests import it.
package oidctest

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ClientID and ClientSecret are the confidential web client the provider
// knows; OtherClientID another (for tokens meant for someone else).
const (
	ClientID      = "stile"
	ClientSecret  = "stile-client-secret"
	OtherClientID = "other-app"
)

// User is a person the provider knows.
type User struct {
	ID, Username, Password, Email string
	Groups                        []string
}

// Provider is a running OpenID Provider.
type Provider struct {
	// Issuer is its issuer URL (ending in /).
	Issuer string
	mu     sync.Mutex
	groups map[string][]string
}

// Start runs a provider that knows users and redirects the stile client
// (and OtherClientID) to redirectURIs; it stops when the test ends.
func Start(t testing.TB, users []User, redirectURIs ...string) *Provider {
	t.Helper()
	p := &Provider{groups: map[string][]string{}}
	file := map[string]*storage.User{}
	for _, u := range users {
		file[u.ID] = &storage.User{ID: u.ID, Username: u.Username, Password: u.Password, FirstName: u.Username, LastName: "Test", Email: u.Email, EmailVerified: true}
		p.groups[u.ID] = u.Groups
	}
	path := filepath.Join(t.TempDir(), "users.json")
	data, _ := json.Marshal(file)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	us, err := storage.StoreFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*storage.Client{
		ClientID:      storage.WebClient(ClientID, ClientSecret, redirectURIs...),
		OtherClientID: storage.WebClient(OtherClientID, ClientSecret, redirectURIs...),
	}
	st := &groupStorage{Storage: storage.NewStorageWithClients(us, clients), p: p}
	srv := httptest.NewUnstartedServer(nil)
	p.Issuer = "http://" + srv.Listener.Addr().String() + "/"
	srv.Config.Handler = exampleop.SetupServer(p.Issuer, st, nil, false, op.WithAllowInsecure())
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// SetGroups changes a user's groups at the provider.
func (p *Provider) SetGroups(userID string, groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.groups[userID] = groups
}

func (p *Provider) groupsOf(userID string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.groups[userID]...)
}

// groupStorage is the example storage with each user's groups as the
// "groups" claim of the ID token and the userinfo answer.
type groupStorage struct {
	*storage.Storage
	p *Provider
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	userinfo.AppendClaims("groups", s.p.groupsOf(token.GetSubject()))
	return nil
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, userinfo *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, userinfo, tokenID, subject, origin); err != nil {
		return err
	}
	userinfo.AppendClaims("groups", s.p.groupsOf(userinfo.Subject))
	return nil
}
