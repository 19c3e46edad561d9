-- Masking rules of resource roles (mask.Rule): a column pattern or a
-- content detector, and a style. The proxy masks the role's results with
-- them on every path.
CREATE TABLE {mask_rules} (
    role_name  TEXT NOT NULL,
    id         TEXT NOT NULL,
    col        TEXT NOT NULL DEFAULT '',
    detector   TEXT NOT NULL DEFAULT '',
    regex      TEXT NOT NULL DEFAULT '',
    style      TEXT NOT NULL,
    created_at {timestamp},
    PRIMARY KEY (role_name, id)
);
