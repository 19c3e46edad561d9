-- Guardrails of resource roles (guard.Policy): the kinds of statement
-- refused (comma-separated) and whether connections are read-only.
CREATE TABLE {guardrails} (
    role_name TEXT PRIMARY KEY,
    block     TEXT NOT NULL DEFAULT '',
    read_only {bool_false}
);
