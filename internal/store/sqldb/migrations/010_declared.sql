-- A role's declaration (spec) is the spec of its last successful apply;
-- declared says it has one. A plan that is never applied changes neither.
ALTER TABLE {roles} ADD COLUMN declared {bool_false};

UPDATE {roles} SET declared = TRUE,
    spec = coalesce((SELECT CAST(p.input AS {json})
                     FROM {sessions} a JOIN {sessions} p ON p.sid = a.plan_sid
                     WHERE a.kind = 'apply' AND a.resource = {roles}.resource AND a.label = {roles}.label
                       AND a.status IN ('applied', 'skipped')
                     ORDER BY a.created_at DESC LIMIT 1), spec)
WHERE EXISTS (SELECT 1 FROM {sessions} a
              WHERE a.kind = 'apply' AND a.resource = {roles}.resource AND a.label = {roles}.label
                AND a.status IN ('applied', 'skipped'));
