package cli

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/pgattack"
	"github.com/stile-dev/stile/internal/pgtest"
)

// TestHostileThroughConnect: issue 21's attacks on masking and guardrails,
// spoken by hand through stile connect's relay (the WebSocket path), as
// internal/service's tests do through the listener.
func TestHostileThroughConnect(t *testing.T) {
	c := pgtest.First(t)
	p := c.Prefix(t)
	db := p + "_shop"
	c.Exec(t, "postgres", "CREATE DATABASE "+db)
	c.Exec(t, db, pgattack.Tables...)
	h := startServer(t, t.TempDir())
	res := p + "_h"
	h.addResource(res, c.Target())
	role := map[string]string{}
	for _, label := range []string{"masked", "guarded", "ro"} {
		doc := h.ok("", "resources", "plan", res, "--role", label, "--scopes", db, "--privileges", "SELECT,INSERT,UPDATE,DELETE")
		h.ok("", "resources", "apply", res, "--sid", field(doc, "sid"))
		role[label] = field(doc, "role_name")
	}
	for _, r := range pgattack.Rules {
		args := []string{"masking", "add", role["masked"], "--id", r.ID, "--style", r.Style}
		if r.Column != "" {
			args = append(args, "--column", r.Column)
		} else {
			args = append(args, "--detector", r.Detector)
		}
		if r.Regex != "" {
			args = append(args, "--regex", r.Regex)
		}
		h.ok("", args...)
	}
	h.ok("", "guardrails", "set", role["guarded"], "--block", strings.Join(pgattack.Guarded.Block, ","))
	h.ok("", "guardrails", "set", role["ro"], "--read-only")
	url := map[string]string{}
	for label, r := range role {
		port := h.connect(t, r, db)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			conn, err := net.Dial("tcp", addr)
			if err == nil {
				conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stile connect %s never listened: %v", label, err)
			}
		}
		url[label] = fmt.Sprintf("postgres://whoever@%s/%s?sslmode=disable", addr, db)
	}
	t.Run("masking", func(t *testing.T) { pgattack.Masking(t, func() string { return url["masked"] }) })
	t.Run("guardrails", func(t *testing.T) {
		pgattack.Guardrails(t, func() string { return url["guarded"] }, func() string { return url["ro"] })
	})
}
