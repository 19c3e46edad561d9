package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/stile-dev/stile/internal/store"
)

// appendChain gives each of sids, finished in this transaction, the next
// place in the audit chain. The chain's head row is locked (where the
// dialect locks rows; SQLite's one connection serializes anyway), so
// replicas finishing sessions at once take turns. Each record is read back
// as stored, so the hash covers exactly what a verifier will read.
func appendChain(ctx context.Context, tx conn, sids []string) error {
	if len(sids) == 0 {
		return nil
	}
	var seq int64
	var prev string
	if err := tx.row(ctx, "SELECT seq, hash FROM {chain} WHERE id = 1{lock}").Scan(&seq, &prev); err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	for _, sid := range sids {
		sess, err := scanSession(tx.row(ctx, "SELECT "+sessionCols+" FROM {sessions} WHERE sid = ?", sid))
		if err != nil {
			return fmt.Errorf("audit chain: session %s: %w", sid, err)
		}
		if sess.ChainSeq != 0 {
			continue
		}
		seq++
		h := store.ChainHash(prev, seq, sess)
		if _, err := tx.exec(ctx, "UPDATE {sessions} SET chain_seq = ?, chain_hash = ? WHERE sid = ?", seq, h, sid); err != nil {
			return fmt.Errorf("audit chain: session %s: %w", sid, err)
		}
		prev = h
	}
	if _, err := tx.exec(ctx, "UPDATE {chain} SET seq = ?, hash = ? WHERE id = 1", seq, prev); err != nil {
		return fmt.Errorf("audit chain: %w", err)
	}
	return nil
}

// startChain chains, once, the sessions that finished before the store had
// a chain (in the order they finished), and records when the chain began.
// Later, a finished session found outside the chain was put there by hand.
func (s *DB) startChain(ctx context.Context) error {
	return s.tx(ctx, func(tx conn) error {
		var since time.Time
		if err := tx.row(ctx, "SELECT started_at FROM {chain} WHERE id = 1{lock}").Scan(at{&since}); err != nil {
			return fmt.Errorf("audit chain: %w", err)
		}
		if !since.IsZero() {
			return nil
		}
		sids, err := queryAll(ctx, tx, "audit chain", scanString,
			"SELECT sid FROM {sessions} WHERE status <> 'running' AND chain_seq = 0 ORDER BY finished_at, created_at, sid{C}")
		if err != nil {
			return err
		}
		*tx.finished = append(*tx.finished, sids...)
		_, err = tx.exec(ctx, "UPDATE {chain} SET started_at = ? WHERE id = 1", tx.now())
		return err
	})
}

// chainPage is how many sessions VerifyChain reads at a time.
const chainPage = 2000

// VerifyChain walks the chain in order, recomputing each hash.
func (s *DB) VerifyChain(ctx context.Context) (store.ChainReport, error) {
	var rep store.ChainReport
	c := s.c()
	if err := c.row(ctx, "SELECT seq, hash, started_at FROM {chain} WHERE id = 1").Scan(&rep.HeadSeq, &rep.HeadHash, at{&rep.Since}); err != nil {
		return rep, fmt.Errorf("audit chain: %w", err)
	}
	var prev, prevSID string
	var seq int64
	for {
		page, err := queryAll(ctx, c, "audit chain", scanSession,
			"SELECT "+sessionCols+" FROM {sessions} WHERE chain_seq > ? ORDER BY chain_seq LIMIT ?", seq, chainPage)
		if err != nil {
			return rep, err
		}
		for _, sess := range page {
			seq++
			switch {
			case sess.ChainSeq > rep.HeadSeq:
				return broken(rep, sess, "is numbered %d, past the chain's head (%d): renumbered or added by hand", sess.ChainSeq, rep.HeadSeq), nil
			case sess.ChainSeq != seq:
				return broken(rep, sess, "follows %s, but sessions %d to %d of the chain are missing: deleted", orFirst(prevSID), seq, sess.ChainSeq-1), nil
			case sess.ChainHash != store.ChainHash(prev, seq, sess):
				return broken(rep, sess, "does not match its hash: edited, or moved from elsewhere in the chain"), nil
			}
			prev, prevSID = sess.ChainHash, sess.SID
			rep.Sessions++
		}
		if len(page) < chainPage {
			break
		}
	}
	switch {
	case seq < rep.HeadSeq:
		rep.Problem = fmt.Sprintf("the chain ends at %d sessions but its head says %d: the last %d were deleted", seq, rep.HeadSeq, rep.HeadSeq-seq)
		rep.SID, rep.Seq = prevSID, seq
		return rep, nil
	case prev != rep.HeadHash:
		rep.Problem = fmt.Sprintf("session %s, the last, does not match the chain's head", prevSID)
		rep.SID, rep.Seq = prevSID, seq
		return rep, nil
	}
	var stray string
	err := c.row(ctx, "SELECT sid FROM {sessions} WHERE status <> 'running' AND chain_seq = 0 ORDER BY created_at, sid{C} LIMIT 1").Scan(&stray)
	if err == nil {
		rep.Problem = fmt.Sprintf("session %s is finished but not in the chain: added by hand", stray)
		rep.SID = stray
		return rep, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return rep, fmt.Errorf("audit chain: %w", err)
	}
	rep.OK = true
	return rep, nil
}

// broken reports the first break of the chain, at sess.
func broken(rep store.ChainReport, sess store.Session, format string, args ...any) store.ChainReport {
	rep.Problem = fmt.Sprintf("session %s (%s by %s) ", sess.SID, sess.Kind, sess.Actor) + fmt.Sprintf(format, args...)
	rep.SID, rep.Seq = sess.SID, sess.ChainSeq
	return rep
}

func orFirst(sid string) string {
	if sid == "" {
		return "the chain's start"
	}
	return sid
}
