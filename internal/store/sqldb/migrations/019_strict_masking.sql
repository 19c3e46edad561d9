-- Strict column rules (mask.Rule.Strict): the planner also withholds SELECT
-- on the columns they name.
ALTER TABLE {mask_rules} ADD COLUMN strict {bool_false};
