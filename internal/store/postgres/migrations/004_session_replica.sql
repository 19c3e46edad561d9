ALTER TABLE stile_sessions ADD COLUMN replica text NOT NULL DEFAULT '';
