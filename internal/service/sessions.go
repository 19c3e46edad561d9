package service

import (
	"context"
	"slices"
	"time"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// Sessions lists the sessions f selects that p may see (MaySee), newest
// first: an administrator sees all, a member their own connections and
// reveals.
func (s *Reporting) Sessions(ctx context.Context, p Principal, f store.SessionFilter) ([]store.Session, error) {
	if p.User == "" {
		return nil, p.MayAdminister()
	}
	list, err := s.store.Sessions(ctx, f)
	if err != nil || p.Admin {
		return list, err
	}
	return slices.DeleteFunc(list, func(x store.Session) bool { return !p.MaySee(x) }), nil
}

// SessionKinds are the kinds of session there are.
var SessionKinds = []string{store.KindHealth, store.KindPlan, store.KindApply, store.KindDrift, KindReveal, KindConnect, KindApproval, KindAccess, KindAlert}

// Session returns one session, if p may see it (MaySee).
func (s *Reporting) Session(ctx context.Context, p Principal, sid string) (store.Session, error) {
	x, err := s.store.Session(ctx, sid)
	if err == nil && !p.MaySee(x) {
		if err := p.MayAdminister(); p.User == "" {
			return store.Session{}, err
		}
		return store.Session{}, errs.New(errs.Forbidden, "%s may not see session %s", p.User, sid)
	}
	return x, err
}

// VerifyChain walks the store's audit chain.
func (s *Reporting) VerifyChain(ctx context.Context, p Principal) (store.ChainReport, error) {
	if err := p.MayAdminister(); err != nil {
		return store.ChainReport{}, err
	}
	return s.store.VerifyChain(ctx)
}

// every runs f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}
