package service

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgattack"
	"github.com/stile-dev/stile/internal/pgtest"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// hostileSetup makes a shop with customers and a scratch table, a masked
// role (column rules on email and ssn, detectors for cards, emails and
// an SSN regex), a guarded role (every kind blocked) and a read-only one,
// behind the listener. It returns the listener's URL for a role.
func hostileSetup(t *testing.T) (svc *Services, db string, role map[string]string, url func(role string) string) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db = p + "_shop"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, pgattack.Tables...)
	svc = serviceWithResource(t, p, c.Target())
	svc.SignIn.adminToken = "admin-token"
	ctx := context.Background()
	role = map[string]string{}
	for _, label := range []string{"masked", "guarded", "ro"} {
		role[label] = applyRole(t, svc, spec.Role{Resource: p, Label: label, Scopes: []string{db}, Privileges: []string{"SELECT", "INSERT", "UPDATE", "DELETE"}})
	}
	for _, r := range pgattack.Rules {
		if _, err := svc.Masking.AddMaskRule(ctx, Principal{User: "admin", Admin: true}, role["masked"], r); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Masking.SetGuardrails(ctx, Principal{User: "admin", Admin: true}, role["guarded"], pgattack.Guarded); err != nil {
		t.Fatal(err)
	}
	if err := svc.Masking.SetGuardrails(ctx, Principal{User: "admin", Admin: true}, role["ro"], pgattack.ReadOnly); err != nil {
		t.Fatal(err)
	}
	ln := serveListener(t, svc)
	url = func(r string) string {
		return fmt.Sprintf("postgres://%s:admin-token@%s/%s?sslmode=disable", r, ln, db)
	}
	return svc, db, role, url
}

// TestHostileMasking: issue 21's masking attacks through the listener, and
// the fastpath call they make is recorded in the connection's session.
func TestHostileMasking(t *testing.T) {
	svc, _, role, url := hostileSetup(t)
	pgattack.Masking(t, func() string { return url(role["masked"]) })
	for i := 0; ; i++ {
		list, _ := svc.Reporting.Sessions(context.Background(), Admin, store.SessionFilter{Kind: KindConnect})
		found := false
		for _, s := range list {
			found = found || strings.Contains(s.Output, "fastpath function call")
		}
		if found {
			break
		}
		if i > 100 {
			t.Fatal("no session recorded the fastpath call")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHostileGuardrails: issue 21's guardrail attacks through the listener.
func TestHostileGuardrails(t *testing.T) {
	_, _, role, url := hostileSetup(t)
	pgattack.Guardrails(t, func() string { return url(role["guarded"]) }, func() string { return url(role["ro"]) })
}
