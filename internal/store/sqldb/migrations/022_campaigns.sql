-- Recertification campaigns (issue 24): each standing grant at the start,
-- its members and their last use, its reviewers and its decision.
CREATE TABLE {campaigns} (
    id         TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at {timestamp},
    due_at     {timestamp},
    on_due     TEXT NOT NULL,
    status     TEXT NOT NULL,
    closed_at  {timestamp_or_unset}
);
CREATE TABLE {campaign_items} (
    campaign_id TEXT NOT NULL REFERENCES {campaigns} (id) ON DELETE CASCADE,
    role_name   TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    members     TEXT NOT NULL,
    last_used   {timestamp_or_unset},
    reviewers   TEXT NOT NULL DEFAULT '',
    decision    TEXT NOT NULL DEFAULT '',
    decided_by  TEXT NOT NULL DEFAULT '',
    decided_at  {timestamp_or_unset},
    note        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (campaign_id, role_name, group_name)
);
