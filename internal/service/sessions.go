package service

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/plan"
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
var SessionKinds = []string{store.KindHealth, store.KindPlan, store.KindApply, store.KindDrift, KindReveal, KindConnect, KindApproval, KindAccess, KindAlert, KindRequest, KindReview}

// Session returns one session, if p may see it (MaySee), with its output
// (withOutput).
func (s *Reporting) Session(ctx context.Context, p Principal, sid string) (store.Session, error) {
	x, err := s.store.Session(ctx, sid)
	if err == nil && !p.MaySee(x) {
		if err := p.MayAdminister(); p.User == "" {
			return store.Session{}, err
		}
		return store.Session{}, errs.New(errs.Forbidden, "%s may not see session %s", p.User, sid)
	}
	return withOutput(x), err
}

// withOutput returns s with its output. A plan session's output is its
// document as YAML, which the store does not keep beside the document
// (JSON): it is rendered here, when someone reads the session. Plan
// sessions from before kept both, and a failed plan without a document its
// error; theirs is returned as stored.
func withOutput(s store.Session) store.Session {
	if s.Kind != store.KindPlan || s.Output != "" || s.Document == "" {
		return s
	}
	var doc plan.Document
	if err := json.Unmarshal([]byte(s.Document), &doc); err != nil {
		return s
	}
	text, err := yaml.Marshal(doc)
	if err != nil {
		return s
	}
	s.Output = string(text)
	return s
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
