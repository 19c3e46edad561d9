package guard

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	all := Policy{Block: Kinds}
	for _, tt := range []struct {
		p    Policy
		sql  string
		want string // part of the reason; "" runs
	}{
		{all, "SELECT * FROM t WHERE x = 'DROP TABLE t'", ""},
		{all, "DELETE FROM t", "DELETE without a WHERE"},
		{all, "delete from t where id = 1", ""},
		{all, "DELETE FROM t USING u WHERE t.id = u.id", ""},
		{all, "DELETE FROM t -- WHERE id = 1", "DELETE without a WHERE"},
		{all, "DELETE FROM t /* WHERE id = 1 */", "DELETE without a WHERE"},
		{all, "DELETE FROM t WHERE id IN (SELECT id FROM u)", ""},
		{all, "DELETE FROM t RETURNING (SELECT 1 WHERE true)", "DELETE without a WHERE"},
		{all, "UPDATE t SET a = 'where'", "UPDATE without a WHERE"},
		{all, "UPDATE t SET a = 1 WHERE b", ""},
		{all, `UPDATE "where" SET a = 1`, "UPDATE without a WHERE"},
		{all, "TRUNCATE t", "TRUNCATE"},
		{all, "DROP TABLE t", "DROP"},
		{all, "CREATE INDEX ON t (a)", "CREATE (DDL)"},
		{all, "ALTER TABLE t ADD COLUMN b int", "ALTER (DDL)"},
		{all, "COPY t TO PROGRAM 'curl evil'", "COPY … PROGRAM"},
		{all, "COPY t TO STDOUT", ""},
		{all, "SELECT 1; DROP TABLE t", "DROP"},
		{all, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE without a WHERE"},
		{all, "WITH d AS (SELECT 1) DELETE FROM t", "DELETE without a WHERE"},
		{all, "WITH d AS (SELECT 1) SELECT * FROM d", ""},
		{all, "EXPLAIN DELETE FROM t", ""},
		{all, "EXPLAIN ANALYZE DELETE FROM t", "DELETE without a WHERE"},
		{all, "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", "UPDATE without a WHERE"},
		{all, "DO $$ BEGIN DELETE FROM t; END $$", "DO is blocked"},
		{all, "SELECT $x$ DROP TABLE t; $x$", ""},
		{all, "SELECT E'it\\'s; DROP TABLE t'", ""},
		{all, "frobnicate t", "cannot tell what"},
		{all, "BEGIN; UPDATE t SET a = 1 WHERE id = 2; COMMIT", ""},
		{Policy{Block: []string{DeleteWithoutWhere}}, "DROP TABLE t", ""},
		{Policy{Block: []string{DDL}}, "DROP TABLE t", "DROP"},
		{Policy{}, "DROP TABLE t", ""},
		{Policy{ReadOnly: true}, "SET default_transaction_read_only = off", "read-only"},
		{Policy{ReadOnly: true}, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "read-only"},
		{Policy{ReadOnly: true}, "BEGIN READ WRITE", "READ WRITE"},
		{Policy{ReadOnly: true}, "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", "READ WRITE"},
		{Policy{ReadOnly: true}, "SELECT set_config('default_transaction_read_only', 'off', false)", "read-only"},
		{Policy{ReadOnly: true}, "RESET ALL", ""},
		{Policy{ReadOnly: true}, "SELECT 'read write'", ""},
		{Policy{ReadOnly: true}, "INSERT INTO t VALUES (1)", ""}, // PostgreSQL refuses it itself
	} {
		got := tt.p.Check(tt.sql)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%+v %q: %q, want %q", tt.p, tt.sql, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{Block: []string{"ddl", "nope"}}).Validate(); err == nil || !strings.Contains(err.Error(), `"nope" is not a kind`) {
		t.Errorf("Validate: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"DELETE FROM t", "SELECT $a$x$a$", "/* /* */ */ DROP x", "E'\\\\'", `"a""b"`} {
		f.Add(s)
	}
	p := Policy{Block: Kinds, ReadOnly: true}
	f.Fuzz(func(t *testing.T, sql string) {
		p.Check(sql) // never panics
	})
}

func TestChangesSchema(t *testing.T) {
	for sql, want := range map[string]bool{
		"ALTER TABLE t RENAME COLUMN a TO email":      true,
		"select 1; drop table t":                      true,
		"  /* c */ CREATE TABLE x (a int)":            true,
		"DO $$ BEGIN EXECUTE 'alter table t'; END $$": true,
		"SELECT 'alter table t'":                      false,
		"UPDATE t SET a = 1 WHERE id = 2":             false,
		"":                                            false,
	} {
		if got := ChangesSchema(sql); got != want {
			t.Errorf("ChangesSchema(%q) = %v, want %v", sql, got, want)
		}
	}
}
