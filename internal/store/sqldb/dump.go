package sqldb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/store"
)

// Dump reads the whole store.
func (s *DB) Dump(ctx context.Context) (store.Dump, error) {
	d := store.Dump{Meta: map[string]string{}}
	rows, err := s.c().query(ctx, "SELECT key, value FROM {meta}")
	if err != nil {
		return d, fmt.Errorf("dump meta: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return d, err
		}
		d.Meta[k] = v
	}
	rows.Close()
	if d.Resources, err = s.Resources(ctx); err != nil {
		return d, err
	}
	if d.Roles, err = s.Roles(ctx, ""); err != nil {
		return d, err
	}
	if d.Sessions, err = queryAll(ctx, s.c(), "dump sessions", scanSession, "SELECT "+sessionCols+" FROM {sessions} ORDER BY created_at, sid{C}"); err != nil {
		return d, err
	}
	if d.Agents, err = s.Agents(ctx); err != nil {
		return d, err
	}
	if d.Users, err = s.Users(ctx); err != nil {
		return d, err
	}
	if d.Tokens, err = s.Tokens(ctx, ""); err != nil {
		return d, err
	}
	if d.Groups, err = s.Groups(ctx); err != nil {
		return d, err
	}
	if d.Grants, err = s.Grants(ctx); err != nil {
		return d, err
	}
	campaigns, err := s.Campaigns(ctx)
	if err != nil {
		return d, err
	}
	for _, c := range campaigns {
		full, err := s.Campaign(ctx, c.ID)
		if err != nil {
			return d, err
		}
		d.Campaigns = append(d.Campaigns, full)
	}
	if d.Rotations, err = s.Rotations(ctx); err != nil {
		return d, err
	}
	if d.Policies, err = s.Policies(ctx); err != nil {
		return d, err
	}
	if d.Requests, err = s.Requests(ctx, store.RequestFilter{}); err != nil {
		return d, err
	}
	if d.ApprovalRequired, err = queryAll(ctx, s.c(), "dump approval settings", scanString, "SELECT role_name FROM {approval_required} ORDER BY role_name{C}"); err != nil {
		return d, err
	}
	if d.Approvals, err = s.Approvals(ctx, ""); err != nil {
		return d, err
	}
	if d.Usage, err = queryAll(ctx, s.c(), "dump usage", scanUsage, "SELECT "+usageCols+" FROM {usage} ORDER BY kind, name{C}"); err != nil {
		return d, err
	}
	d.LastUses, err = s.LastUses(ctx, store.LastUseFilter{})
	return d, err
}

// Load writes a dump into an empty store in one transaction.
func (s *DB) Load(ctx context.Context, d store.Dump) error {
	return s.tx(ctx, func(tx conn) error {
		var n int
		if err := tx.row(ctx, "SELECT (SELECT count(*) FROM {resources}) + (SELECT count(*) FROM {sessions})").Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.New(errs.Conflict, "the destination store is not empty")
		}
		for k, v := range d.Meta {
			if _, err := tx.exec(ctx, "INSERT INTO {meta} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", k, v); err != nil {
				return err
			}
		}
		for _, r := range d.Resources {
			if _, err := tx.exec(ctx, "INSERT INTO {resources} ("+resourceCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				r.Name, r.Type, r.Host, r.Port, r.Database, r.SSLMode, r.Agent, r.AdminUser, r.AdminSecret, tx.tm(r.CreatedAt), tx.tm(r.UpdatedAt)); err != nil {
				return fmt.Errorf("load resource %s: %w", r.Name, err)
			}
		}
		for _, r := range d.Roles {
			spec, _ := json.Marshal(r.Spec)
			if _, err := tx.exec(ctx, "INSERT INTO {roles} ("+roleCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				r.Resource, r.Label, r.RoleName, string(spec), r.Declared, r.PasswordCurrent, r.PasswordPending, r.LastPlanSID, r.LastApplySID, r.Status, tx.tm(r.CreatedAt), tx.tm(r.UpdatedAt), tx.tm(r.PasswordSetAt)); err != nil {
				return fmt.Errorf("load role %s: %w", r.RoleName, err)
			}
		}
		var head store.Session
		for _, sess := range d.Sessions {
			if err := insertSession(ctx, tx, sess); err != nil {
				return err
			}
			if sess.ChainSeq > head.ChainSeq {
				head = sess
			}
		}
		// The chain comes along as it was; its head is its last session.
		if _, err := tx.exec(ctx, "UPDATE {chain} SET seq = ?, hash = ? WHERE id = 1", head.ChainSeq, head.ChainHash); err != nil {
			return fmt.Errorf("load the audit chain: %w", err)
		}
		for _, a := range d.Agents {
			if _, err := tx.exec(ctx, "INSERT INTO {agents} ("+agentCols+") VALUES (?, ?, ?, ?, ?, ?, '')", a.Name, a.TokenHash, tx.tm(a.CreatedAt), tx.tm(a.RevokedAt), tx.tm(a.LastSeen), a.Version); err != nil {
				return fmt.Errorf("load agent %s: %w", a.Name, err)
			}
		}
		for _, u := range d.Users {
			if _, err := tx.exec(ctx, "INSERT INTO {users} ("+userCols+") VALUES (?, ?, ?, ?, ?, ?, ?)", u.Name, u.Admin, u.Disabled, tx.tm(u.CreatedAt), cmp.Or(u.Source, store.SourceLocal), u.Subject, tx.tm(u.LastSignIn)); err != nil {
				return fmt.Errorf("load user %s: %w", u.Name, err)
			}
		}
		for _, k := range d.Tokens {
			if _, err := tx.exec(ctx, "INSERT INTO {tokens} (id, user_name, hash, created_at, revoked_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)", k.ID, k.User, k.Hash, tx.tm(k.CreatedAt), tx.tm(k.RevokedAt), tx.tm(k.ExpiresAt)); err != nil {
				return fmt.Errorf("load token %s: %w", k.ID, err)
			}
		}
		if err := loadUsage(ctx, tx, d); err != nil {
			return err
		}
		return loadPeople(ctx, tx, d)
	})
}

// loadUsage writes a dump's usage records and last uses.
func loadUsage(ctx context.Context, tx conn, d store.Dump) error {
	for _, r := range d.Usage {
		days, _ := r.Series.MarshalBinary()
		t := r.Total
		if _, err := tx.exec(ctx, "INSERT INTO {usage} ("+usageCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			r.Kind, r.Name, tx.tm(r.LastUsed), t.Connections, t.Seconds, t.BytesIn, t.BytesOut, t.Statements, days); err != nil {
			return fmt.Errorf("load usage of %s %s: %w", r.Kind, r.Name, err)
		}
	}
	for _, l := range d.LastUses {
		if _, err := tx.exec(ctx, "INSERT INTO {usage_last} (role, user_name, last_used, connections) VALUES (?, ?, ?, ?)", l.Role, l.User, tx.tm(l.LastUsed), l.Connections); err != nil {
			return fmt.Errorf("load last use of %s by %s: %w", l.Role, l.User, err)
		}
	}
	return nil
}

// loadPeople writes a dump's groups, access and approvals.
func loadPeople(ctx context.Context, tx conn, d store.Dump) error {
	for g, members := range d.Groups {
		if _, err := tx.exec(ctx, "INSERT INTO {groups} (name) VALUES (?)", g); err != nil {
			return fmt.Errorf("load group %s: %w", g, err)
		}
		for _, u := range members {
			if _, err := tx.exec(ctx, "INSERT INTO {group_members} (group_name, user_name) VALUES (?, ?)", g, u); err != nil {
				return fmt.Errorf("load member %s of %s: %w", u, g, err)
			}
		}
	}
	for _, g := range d.Grants {
		if _, err := tx.exec(ctx, "INSERT INTO {access} ("+grantCols+") VALUES (?, ?, ?, ?, ?, ?)", g.Role, g.Group, g.Eligible, tx.tm(g.Until), g.GrantedBy, tx.tm(g.GrantedAt)); err != nil {
			return fmt.Errorf("load access %s: %w", g.Role, err)
		}
	}
	for _, c := range d.Campaigns {
		if err := insertCampaign(ctx, tx, c); err != nil {
			return err
		}
	}
	for _, r := range d.Rotations {
		if err := putRotation(ctx, tx, r); err != nil {
			return err
		}
	}
	for _, p := range d.Policies {
		if _, err := tx.exec(ctx, "INSERT INTO {access_policies} ("+policyCols+") VALUES (?, ?, ?, ?, ?, ?)", p.Role, p.MaxSeconds, p.ReasonRequired, strings.Join(p.Approvers, ","), p.Approvals, p.PendingSeconds); err != nil {
			return fmt.Errorf("load policy %s: %w", p.Role, err)
		}
	}
	for _, r := range d.Requests {
		if err := insertRequest(ctx, tx, r); err != nil {
			return err
		}
	}
	for _, r := range d.ApprovalRequired {
		if _, err := tx.exec(ctx, "INSERT INTO {approval_required} (role_name) VALUES (?)", r); err != nil {
			return fmt.Errorf("load approval setting %s: %w", r, err)
		}
	}
	for _, a := range d.Approvals {
		if _, err := tx.exec(ctx, "INSERT INTO {approvals} ("+approvalCols+") VALUES (?, ?, ?, ?, ?, ?, ?)", a.ID, a.Role, a.User, a.Database, a.Status, tx.tm(a.CreatedAt), a.DecidedBy); err != nil {
			return fmt.Errorf("load approval %s: %w", a.ID, err)
		}
	}
	return nil
}
