package service

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// KindAlert is the session kind of an alert stile raises itself: a burst
// of failed sign-ins from one source, an administrator's token used from a
// new address. Its status is its severity (warning, critical).
const KindAlert = "alert"

// Alert names.
const (
	AlertFailedSignIns = "failed-sign-ins"
	AlertNewAddress    = "token-new-address"
)

// Where a sign-in came from: the API, the web app or the PostgreSQL
// listener (via), and the client's address.
type source struct{ addr, via string }

type sourceKey struct{}

// WithSource says where ctx's request came from: the client's address
// (host:port or host) and the way in (api, web or pg). Authenticate reads
// it to count failures and watch administrators' addresses.
func WithSource(ctx context.Context, addr, via string) context.Context {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return context.WithValue(ctx, sourceKey{}, source{addr: addr, via: via})
}

func sourceOf(ctx context.Context) (source, bool) {
	s, ok := ctx.Value(sourceKey{}).(source)
	return s, ok && s.addr != ""
}

// Default alert thresholds.
const (
	DefaultSignInFailures = 10
	signInWindow          = time.Minute
	// maxSources bounds the failures kept in memory: past it, the
	// sources with the oldest failures are forgotten.
	maxSources = 10_000
)

// signIns counts this replica's failed sign-ins per source over the last
// minute, and remembers the administrators' addresses it has seen.
type signIns struct {
	mu       sync.Mutex
	limit    int
	failures map[string][]time.Time
	alerted  map[string]time.Time
	seen     map[string]bool // token + " " + addr, recorded in the store
}

// fail counts a failed sign-in from src at now and reports how many there
// were in the last minute when it crosses the limit (0 otherwise): one
// alert per source and window.
func (g *signIns) fail(src string, now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limit <= 0 {
		return 0
	}
	if g.failures == nil {
		g.failures, g.alerted = map[string][]time.Time{}, map[string]time.Time{}
	}
	recent := g.failures[src][:0]
	for _, t := range g.failures[src] {
		if now.Sub(t) < signInWindow {
			recent = append(recent, t)
		}
	}
	recent = append(recent, now)
	g.failures[src] = recent
	if len(g.failures) > maxSources {
		for k, ts := range g.failures {
			if now.Sub(ts[len(ts)-1]) >= signInWindow {
				delete(g.failures, k)
				delete(g.alerted, k)
			}
		}
	}
	if len(recent) < g.limit || now.Sub(g.alerted[src]) < signInWindow {
		return 0
	}
	g.alerted[src] = now
	return len(recent)
}

// known reports whether this replica saw key already, and marks it seen.
func (g *signIns) known(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	if g.seen[key] || len(g.seen) > maxSources {
		return true
	}
	g.seen[key] = true
	return false
}

// signInFailed counts a refused sign-in and raises an alert when its
// source crosses the limit.
func (s *SignIn) signInFailed(ctx context.Context) {
	src, ok := sourceOf(ctx)
	if !ok {
		return
	}
	s.metrics.SignInFailure(src.via)
	n := s.signIns.fail(src.addr, s.now())
	if n == 0 {
		return
	}
	s.raise(ctx, "critical", map[string]any{"alert": AlertFailedSignIns, "source": src.addr, "via": src.via, "failures": n, "window": signInWindow.String()},
		"%d failed sign-ins from %s (%s) within %s", n, src.addr, src.via, signInWindow)
}

// signedIn watches the addresses an administrator's token is used from:
// the first use of a token from a new address, once it was used from
// others, raises an alert.
func (s *SignIn) signedIn(ctx context.Context, p Principal, tokenID string) {
	src, ok := sourceOf(ctx)
	if !ok || !p.Admin || s.signIns.known(tokenID+" "+src.addr) {
		return
	}
	isNew, others, err := s.store.SeeAddress(context.WithoutCancel(ctx), tokenID, src.addr, s.now())
	if err != nil {
		s.log.Warn("watch an administrator's address", "err", err)
		return
	}
	if !isNew || others == 0 {
		return
	}
	who := "the admin token"
	if tokenID != "admin" {
		who = fmt.Sprintf("%s's token %s", p.User, tokenID)
	}
	s.raise(ctx, "warning", map[string]any{"alert": AlertNewAddress, "user": p.User, "token": tokenID, "source": src.addr, "via": src.via, "known_addresses": others},
		"%s was used from %s (%s), an address it was never used from (%d known)", who, src.addr, src.via, others)
}

// raise records an alert session and exports it at once.
func (s *core) raise(ctx context.Context, severity string, in map[string]any, format string, args ...any) {
	data, _ := json.Marshal(in)
	now, what := s.now(), fmt.Sprintf(format, args...)
	sess := store.Session{SID: newSID(), Kind: KindAlert, Actor: "stile", CreatedAt: now, FinishedAt: now, Replica: s.replica,
		Status: severity, Message: what, Input: string(data), Output: what + "\n"}
	if err := s.store.CreateSessions(context.WithoutCancel(ctx), sess); err != nil {
		s.log.Error("record an alert", "alert", in["alert"], "err", err)
		return
	}
	s.log.Warn("alert", "alert", in["alert"], "message", what)
	s.emit(sess)
}
