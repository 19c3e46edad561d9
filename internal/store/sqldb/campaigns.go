package sqldb

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stile-dev/stile/internal/store"
)

const campaignCols = "id, created_by, created_at, due_at, on_due, status, closed_at"
const itemCols = "role_name, group_name, members, last_used, reviewers, decision, decided_by, decided_at, note"

func scanCampaign(row scanner) (store.Campaign, error) {
	var c store.Campaign
	err := row.Scan(&c.ID, &c.CreatedBy, at{&c.CreatedAt}, at{&c.DueAt}, &c.OnDue, &c.Status, at{&c.ClosedAt})
	return c, err
}

func scanItem(row scanner) (store.CampaignItem, error) {
	var it store.CampaignItem
	var members, reviewers string
	err := row.Scan(&it.Role, &it.Group, &members, at{&it.LastUsed}, &reviewers, &it.Decision, &it.DecidedBy, at{&it.DecidedAt}, &it.Note)
	if err != nil {
		return it, err
	}
	it.Reviewers = splitList(reviewers)
	return it, json.Unmarshal([]byte(members), &it.Members)
}

// CreateCampaign records a campaign, its items and its session.
func (s *DB) CreateCampaign(ctx context.Context, c store.Campaign, sess store.Session) error {
	return s.tx(ctx, func(tx conn) error {
		if err := insertCampaign(ctx, tx, c); err != nil {
			return err
		}
		return insertSession(ctx, tx, sess)
	})
}

func insertCampaign(ctx context.Context, tx conn, c store.Campaign) error {
	if _, err := tx.exec(ctx, "INSERT INTO {campaigns} ("+campaignCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
		c.ID, c.CreatedBy, tx.tm(c.CreatedAt), tx.tm(c.DueAt), c.OnDue, c.Status, tx.tm(c.ClosedAt)); err != nil {
		return fmt.Errorf("record campaign: %w", err)
	}
	for _, it := range c.Items {
		members, _ := json.Marshal(it.Members)
		if _, err := tx.exec(ctx, "INSERT INTO {campaign_items} (campaign_id, "+itemCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			c.ID, it.Role, it.Group, string(members), tx.tm(it.LastUsed), strings.Join(it.Reviewers, ","), it.Decision, it.DecidedBy, tx.tm(it.DecidedAt), it.Note); err != nil {
			return fmt.Errorf("record campaign item: %w", err)
		}
	}
	return nil
}

// campaignItems reads a campaign's items into c, and counts them.
func campaignItems(ctx context.Context, c conn, camp *store.Campaign) error {
	items, err := queryAll(ctx, c, "list campaign items", scanItem, "SELECT "+itemCols+" FROM {campaign_items} WHERE campaign_id = ? ORDER BY role_name{C}, group_name{C}", camp.ID)
	if err != nil {
		return err
	}
	camp.Items = items
	camp.Pending, camp.Confirmed, camp.Revoked, camp.Flagged = 0, 0, 0, 0
	for _, it := range items {
		switch it.Decision {
		case "":
			camp.Pending++
		case store.ItemConfirmed:
			camp.Confirmed++
		case store.ItemRevoked:
			camp.Revoked++
		case store.ItemFlagged:
			camp.Flagged++
		}
	}
	return nil
}

// Campaigns lists campaigns, newest first, with their counts (not their
// items): one query, however many campaigns and items there are.
func (s *DB) Campaigns(ctx context.Context) ([]store.Campaign, error) {
	return queryAll(ctx, s.c(), "list campaigns", func(row scanner) (store.Campaign, error) {
		var c store.Campaign
		err := row.Scan(&c.ID, &c.CreatedBy, at{&c.CreatedAt}, at{&c.DueAt}, &c.OnDue, &c.Status, at{&c.ClosedAt}, &c.Pending, &c.Confirmed, &c.Revoked, &c.Flagged)
		return c, err
	}, `SELECT c.id, c.created_by, c.created_at, c.due_at, c.on_due, c.status, c.closed_at,
	coalesce(sum(CASE WHEN i.decision = '' THEN 1 ELSE 0 END), 0), coalesce(sum(CASE WHEN i.decision = 'confirmed' THEN 1 ELSE 0 END), 0),
	coalesce(sum(CASE WHEN i.decision = 'revoked' THEN 1 ELSE 0 END), 0), coalesce(sum(CASE WHEN i.decision = 'flagged' THEN 1 ELSE 0 END), 0)
FROM {campaigns} c LEFT JOIN {campaign_items} i ON i.campaign_id = c.id
GROUP BY c.id, c.created_by, c.created_at, c.due_at, c.on_due, c.status, c.closed_at
ORDER BY c.created_at DESC, c.id{C}`)
}

// Campaign returns one campaign with its items.
func (s *DB) Campaign(ctx context.Context, id string) (store.Campaign, error) {
	c, err := scanCampaign(s.c().row(ctx, "SELECT "+campaignCols+" FROM {campaigns} WHERE id = ?", id))
	if err != nil {
		return c, notFound(err, "campaign %s does not exist", id)
	}
	return c, campaignItems(ctx, s.c(), &c)
}

// UpdateCampaign reads campaign id and its items under a lock, lets
// change decide, and writes the campaign, its items, the grants change
// revokes and its sessions, in one transaction.
func (s *DB) UpdateCampaign(ctx context.Context, id string, change func(*store.Campaign) (revoke []store.Grant, sessions []store.Session, err error)) (store.Campaign, error) {
	var c store.Campaign
	err := s.tx(ctx, func(tx conn) error {
		var err error
		if c, err = scanCampaign(tx.row(ctx, "SELECT "+campaignCols+" FROM {campaigns} WHERE id = ?{lock}", id)); err != nil {
			return notFound(err, "campaign %s does not exist", id)
		}
		if err := campaignItems(ctx, tx, &c); err != nil {
			return err
		}
		revoke, sessions, err := change(&c)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE {campaigns} SET status = ?, closed_at = ? WHERE id = ?", c.Status, tx.tm(c.ClosedAt), id); err != nil {
			return fmt.Errorf("update campaign: %w", err)
		}
		for _, it := range c.Items {
			if _, err := tx.exec(ctx, "UPDATE {campaign_items} SET decision = ?, decided_by = ?, decided_at = ?, note = ? WHERE campaign_id = ? AND role_name = ? AND group_name = ?",
				it.Decision, it.DecidedBy, tx.tm(it.DecidedAt), it.Note, id, it.Role, it.Group); err != nil {
				return fmt.Errorf("update campaign item: %w", err)
			}
		}
		for _, g := range revoke {
			if _, err := tx.exec(ctx, "DELETE FROM {access} WHERE role_name = ? AND group_name = ?", g.Role, g.Group); err != nil {
				return fmt.Errorf("revoke %s from %s: %w", g.Role, g.Group, err)
			}
		}
		for _, sess := range sessions {
			if err := insertSession(ctx, tx, sess); err != nil {
				return err
			}
		}
		return campaignItems(ctx, tx, &c)
	})
	return c, err
}
