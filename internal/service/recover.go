package service

import (
	"context"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// Recover cleans up after a crash: sessions left running are marked failed,
// and each pending password that logs in is promoted; one that does not is
// dropped, or kept on a shared store (the apply may still be finishing on
// another replica), and so is one that cannot be checked now.
func (s *Provisioning) Recover(ctx context.Context) error {
	// On a store of its own every running session was this server's; on a
	// shared one, this replica's own, and those older than the longest job
	// (their replica may be gone for good).
	before := s.now()
	if s.shared {
		before = before.Add(-s.applyTimeout - time.Minute)
	}
	n, err := s.store.FailRunning(ctx, "the server stopped while this session ran; re-plan to see what is left", before, s.replica, !s.shared)
	if err != nil {
		return fmt.Errorf("recover sessions: %w", err)
	}
	if n > 0 {
		s.log.Warn("sessions interrupted by a restart were marked failed", "count", n)
	}
	pending, err := s.store.PendingPasswords(ctx)
	if err != nil {
		return fmt.Errorf("recover passwords: %w", err)
	}
	for _, r := range pending {
		res, err := s.store.Resource(ctx, r.Resource)
		if err != nil {
			continue
		}
		pw, err := s.box.Open(r.PasswordPending, passwordAD(r.Resource, r.Label))
		if err != nil {
			s.log.Error("pending password cannot be opened", "resource", r.Resource, "role", r.RoleName, "err", err)
			continue
		}
		action := s.decidePassword(ctx, res, r.RoleName, pw)
		if action == store.DropPending && s.shared {
			// A refused login proves nothing on a shared store: the apply
			// may still be running on another replica's agent. Keep it;
			// the next apply replaces it. On a store of its own, nothing
			// else can set it: it never took effect.
			action = store.KeepPending
		}
		if err := s.store.ResolvePending(ctx, r.Resource, r.Label, action); err != nil {
			return fmt.Errorf("recover password of %s: %w", r.RoleName, err)
		}
	}
	return nil
}

// Sweep marks as failed, every interval until ctx ends, the sessions still
// running past the longest job: their replica died and did not come back.
func (s *Provisioning) Sweep(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		before := s.now().Add(-max(s.applyTimeout, s.planTimeout) - time.Minute)
		n, err := s.store.FailRunning(ctx, "no server finished this session within the job timeout; re-plan to see what is left", before, "", false)
		if err != nil {
			s.log.Warn("sweep sessions", "err", err)
		} else if n > 0 {
			s.log.Warn("sessions past the job timeout were marked failed", "count", n)
		}
	})
}
