package guard

import (
	"strconv"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	all := Policy{Block: Kinds}
	ro := Policy{ReadOnly: true}
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
		{all, "UPDATE t SET a = 1 WHERE CURRENT OF c", ""},
		{all, "TRUNCATE t", "TRUNCATE"},
		{all, "DROP TABLE t", "DROP"},
		{all, "CREATE INDEX ON t (a)", "CREATE INDEX (DDL)"},
		{all, "ALTER TABLE t ADD COLUMN b int", "ALTER TABLE (DDL)"},
		{all, "SELECT 1 INTO newt", "SELECT INTO (DDL)"},
		{all, "COPY t TO PROGRAM 'curl evil'", "COPY … PROGRAM"},
		{all, "COPY t TO STDOUT", ""},
		{all, "SELECT 1; DROP TABLE t", "DROP"},
		{all, "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "DELETE without a WHERE"},
		{all, "WITH d AS (SELECT 1) DELETE FROM t", "DELETE without a WHERE"},
		{all, "WITH d AS (SELECT 1) SELECT * FROM d", ""},
		{all, "with x as (select 1) select count(*) from x", ""},
		{all, "EXPLAIN DELETE FROM t", ""},
		{all, "EXPLAIN ANALYZE DELETE FROM t", "DELETE without a WHERE"},
		{all, "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1", "UPDATE without a WHERE"},
		{all, "EXPLAIN (ANALYZE 1) UPDATE t SET a = 1", "UPDATE without a WHERE"},
		{all, "EXPLAIN (ANALYZE 0) UPDATE t SET a = 1", "UPDATE without a WHERE"}, // never decided on a number
		{all, "EXPLAIN (ANALYZE false) UPDATE t SET a = 1", ""},
		{all, "EXPLAIN (ANALYZE off) UPDATE t SET a = 1", ""},
		{all, "DO $$ BEGIN DELETE FROM t; END $$", "DO is blocked"},
		{all, "CALL p()", "CALL is blocked"},
		{all, "SELECT $x$ DROP TABLE t; $x$", ""},
		{all, "SELECT E'it\\'s; DROP TABLE t'", ""},
		{all, "frobnicate t", "cannot read this statement"},
		{all, "SELECT 'unterminated", "cannot read this statement"},
		{all, "BEGIN; UPDATE t SET a = 1 WHERE id = 2; COMMIT", ""},
		{all, "MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", "MERGE"},
		{Policy{Block: []string{DeleteWithoutWhere}}, "MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE", ""},
		{Policy{Block: []string{DeleteWithoutWhere}}, "DROP TABLE t", ""},
		{Policy{Block: []string{DDL}}, "DROP TABLE t", "DROP"},
		{Policy{}, "DROP TABLE t", ""},
		{Policy{}, "frobnicate", ""},
		// Issue 21's bypasses of the tokenizer.
		{all, "DELETE FROM scratch RETURNING 1 AS where", "DELETE without a WHERE"},
		{all, "UPDATE scratch SET a = 1 RETURNING 1 AS where", "UPDATE without a WHERE"},
		{all, "COPY (DELETE FROM scratch RETURNING id) TO STDOUT", "DELETE without a WHERE"},
		{all, "PREPARE p AS DELETE FROM scratch", "DELETE without a WHERE"},
		{all, "DECLARE c CURSOR FOR WITH d AS (DELETE FROM scratch RETURNING 1) SELECT * FROM d", "DELETE without a WHERE"},
		{all, "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM scratch", "CREATE RULE (DDL)"},
		{Policy{Block: []string{DeleteWithoutWhere}}, "CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM scratch", "DELETE without a WHERE"},
		{all, "EXECUTE p", ""}, // what it runs was checked when it was prepared
		{all, "SET standard_conforming_strings = off", "standard_conforming_strings"},
		{all, "SET client_encoding = 'SJIS'", "client_encoding"},
		{all, "SET NAMES 'SJIS'", "client_encoding"},
		{all, "SELECT set_config('Standard_Conforming_Strings', 'off', false)", "standard_conforming_strings"},
		{all, "SELECT set_config(name, 'off', false) FROM (SELECT 'standard_conforming_strings' AS name) s", "cannot read"},
		{all, "SELECT set_config('application_name', 'x', false)", ""},
		{all, "SELECT 'x\\' , '; DELETE FROM scratch; --'", ""}, // one string with the parser's settings…
		{ro, "SET default_transaction_read_only = off", "read-only"},
		{ro, `SET "default_transaction_read_only" = off`, "read-only"},
		{ro, `SELECT "set_config"('default_transaction_read_only','off',false)`, "read-only"},
		{ro, `SELECT U&"set\005fconfig"('default_transaction_read_only','off',false)`, "read-only"},
		{ro, `SELECT pg_catalog.set_config('transaction_read_only','off',false)`, "read-only"},
		{ro, `BEGIN; SET "transaction_read_only" = off; UPDATE t SET a = 1 WHERE b`, "read-only"},
		{ro, "RESET transaction_read_only", "read-only"},
		{ro, "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "READ WRITE"},
		{ro, "SET TRANSACTION READ WRITE", "READ WRITE"},
		{ro, "BEGIN READ WRITE", "READ WRITE"},
		{ro, "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE", "READ WRITE"},
		{ro, "BEGIN READ ONLY", ""},
		{ro, "SELECT set_config('default_transaction_read_only', 'off', false)", "read-only"},
		{ro, "CREATE FUNCTION f() RETURNS int SET default_transaction_read_only = off LANGUAGE sql AS 'select 1'", "read-only"},
		{ro, "DO $$ BEGIN EXECUTE 'set default_transaction_read_only = off'; END $$", "DO is blocked"},
		{ro, "RESET ALL", ""},
		{ro, "SELECT 'read write'", ""},
		{ro, "INSERT INTO t VALUES (1)", ""}, // PostgreSQL refuses it itself
	} {
		got := tt.p.Check(tt.sql, true)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%+v %q: %q, want %q", tt.p, tt.sql, got, tt.want)
		}
	}
}

// TestCheckUnsettled: a statement whose reading depends on the session's
// settings is refused when they are not known to be the parser's.
func TestCheckUnsettled(t *testing.T) {
	p := Policy{Block: []string{DeleteWithoutWhere}}
	for sql, want := range map[string]string{
		"SELECT 'x\\' , '; DELETE FROM scratch; --'": "backslash",
		"SELECT 'ソ'":                       "past ASCII",
		"DELETE FROM scratch WHERE id = 1": "",
		"SELECT 'plain'":                   "",
	} {
		got := p.Check(sql, false)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", sql, got, want)
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
		p.Check(sql, true) // never panics
	})
}

// FuzzCacheKey: a statement and its cache key (numbers replaced) are read
// alike, so sharing one analysis is exact.
func FuzzCacheKey(f *testing.F) {
	for _, s := range []string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345",
		"UPDATE t1 SET a2 = 1.5e3 WHERE id = 0x1F", "EXPLAIN (ANALYZE 1) DELETE FROM t",
		"DELETE FROM t WHERE 1_000 > 2", "SELECT 1abc", "SELECT * FROM t LIMIT 10 OFFSET 3",
		"BEGIN READ WRITE", "SET x = 5", "FETCH 5 FROM c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		key, ok := cacheKey(sql)
		if !ok {
			return
		}
		a, b := *read(sql), *read(key)
		a.parseErr, b.parseErr = yes(a.parseErr), yes(b.parseErr)
		if a != b {
			t.Errorf("%q read as %+v, its key %q as %+v", sql, a, key, b)
		}
	})
}

func yes(s string) string {
	if s != "" {
		return "error"
	}
	return ""
}

func TestCacheKey(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345;": "SELECT abalance FROM pgbench_accounts WHERE aid = 1;",
		"select t1.a2 from t1 where x = 1.5e3":                     "select t1.a2 from t1 where x = 1.5e3",
		"SELECT 'a1'":                                              "",
		"SELECT 1 -- 2":                                            "",
	} {
		got, ok := cacheKey(sql)
		if (want == "") == ok || got != want {
			t.Errorf("cacheKey(%q) = %q, %v; want %q", sql, got, ok, want)
		}
	}
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

// TestCheckerCaches: a Checker reads a statement once, and once for every
// statement that differs only in its numbers; it answers as Policy.Check,
// which keeps nothing; a full cache starts again.
func TestCheckerCaches(t *testing.T) {
	c := NewChecker()
	a := c.analyze("DELETE FROM t WHERE id = 1")
	if c.analyze("DELETE FROM t WHERE id = 2") != a || len(c.m) != 1 {
		t.Errorf("the same shape read twice: %d cached", len(c.m))
	}
	if (*Checker)(nil).analyze("DELETE FROM t WHERE id = 1") == a {
		t.Error("a nil Checker answered from a cache")
	}
	p := Policy{Block: Kinds}
	for _, sql := range []string{"DELETE FROM t", "DROP TABLE t", "SELECT 1"} {
		if got, want := c.Check(p, sql, true), p.Check(sql, true); got != want {
			t.Errorf("%q: Checker %q, Policy %q", sql, got, want)
		}
		if c.ChangesSchema(sql) != ChangesSchema(sql) {
			t.Errorf("%q: ChangesSchema differs", sql)
		}
	}
	for i := len(c.m); i < maxCached; i++ {
		c.m["SELECT x FROM t"+strconv.Itoa(i)] = a
	}
	c.analyze("SELECT y FROM u")
	if len(c.m) != 1 {
		t.Errorf("a full cache took one more: %d cached", len(c.m))
	}
}

func BenchmarkCheck(b *testing.B) {
	p := Policy{Block: Kinds, ReadOnly: true}
	c := NewChecker()
	c.Check(p, "SELECT 1", true)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			c.Check(p, "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;", true)
		}
	})
	b.Run("parse", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			read("SELECT abalance FROM pgbench_accounts WHERE aid = 12345 AND bid = '" + string(rune('a'+i%26)) + "';")
		}
	})
}
