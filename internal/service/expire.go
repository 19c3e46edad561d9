package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// Expire ends what time ended, once across replicas: pending requests
// nobody decided, approved windows and grants past their Until. Each gets
// its session; connections that depended on them close.
func (s *Requests) Expire(ctx context.Context) error {
	now := s.now()
	due, err := s.store.Requests(ctx, store.RequestFilter{DueBy: now})
	if err != nil {
		return err
	}
	changed := false
	for _, r := range due {
		rr, _ := s.resourceRole(ctx, r.Role)
		_, err := s.updateRequest(ctx, r.ID, func(r *store.AccessRequest) (store.Session, error) {
			switch {
			case r.Status == store.RequestPending && !r.ExpiresAt.After(now):
				r.Status = store.RequestExpired
				return s.requestSession(rr, *r, "stile", "%s's request for %s expired: %d of %d approvals by %s",
					r.User, r.Role, r.Approved(), r.Approvals, r.ExpiresAt.Format(time.RFC3339)), nil
			case r.Status == store.RequestApproved && !r.EndsAt.After(now):
				r.Status = store.RequestEnded
				return s.windowEnd(rr, *r, "stile", fmt.Sprintf("%s's window on %s ended at %s (request %s)", r.User, r.Role, r.EndsAt.Format(time.RFC3339), r.ID)), nil
			}
			return store.Session{}, store.ErrNoChange // another replica did it
		})
		switch {
		case errors.Is(err, store.ErrNoChange):
		case err != nil:
			return err
		default:
			changed = true
		}
	}
	ended, err := s.endGrants(ctx, now)
	if err != nil {
		return err
	}
	if changed || ended > 0 {
		s.connections.enforceNow(ctx)
	}
	return nil
}

// endGrants ends the grants whose Until came, each with its session, and
// says how many it ended.
func (s *Requests) endGrants(ctx context.Context, now time.Time) (int, error) {
	// The resource roles of the grants that end, read before the store's
	// transaction (on SQLite, its one connection).
	grants, err := s.store.Grants(ctx)
	if err != nil {
		return 0, err
	}
	roles := map[string]ResourceRole{}
	for _, g := range grants {
		if !g.Until.IsZero() && !g.Until.After(now) {
			roles[g.Role], _ = s.resourceRole(ctx, g.Role)
		}
	}
	if len(roles) == 0 {
		return 0, nil
	}
	var made []store.Session
	ended, err := s.store.EndGrants(ctx, now, func(g store.Grant) store.Session {
		what := fmt.Sprintf("the grant of %s to group %s ended at %s", g.Role, g.Group, g.Until.Format(time.RFC3339))
		in, _ := json.Marshal(map[string]any{"role": g.Role, "ended": g.Group, "eligible": g.Eligible, "until": g.Until})
		rr := roles[g.Role]
		sess := store.Session{SID: newSID(), Kind: KindAccess, Resource: rr.Resource, Role: g.Role, Label: rr.Label, Actor: "stile", CreatedAt: now, FinishedAt: now,
			Replica: s.replica, Status: "ok", Message: what, Input: string(in), Output: what + "\n"}
		made = append(made, sess)
		return sess
	})
	if err != nil {
		return 0, err
	}
	// session was called once for each grant ended, in the transaction
	// that committed.
	for _, sess := range made {
		s.emit(sess)
	}
	return len(ended), nil
}

// ExpireEvery runs Expire every interval until ctx ends.
func (s *Requests) ExpireEvery(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.Expire(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("end expired access", "err", err)
		}
	})
}
