package guard

import (
	"slices"
	"strings"
	"testing"
)

// TestUses: the table privileges statements need, read from the parse
// tree: reads, writes, the target read by a WHERE, CTE names left out,
// COPY both ways, MERGE's actions, TRUNCATE, and nothing for statements
// that touch no table.
func TestUses(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT * FROM public.a JOIN b USING (id)":                      ".b SELECT, public.a SELECT",
		"WITH x AS (SELECT 1 FROM s.a) INSERT INTO b SELECT * FROM x":   ".b INSERT, s.a SELECT",
		"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2": ".t INSERT, .t UPDATE",
		"UPDATE s.t SET a = 1 WHERE b = 2":                              "s.t SELECT, s.t UPDATE",
		"UPDATE s.t SET a = (SELECT max(x) FROM s.u)":                   "s.t UPDATE, s.u SELECT",
		"DELETE FROM t": ".t DELETE",
		"DELETE FROM t WHERE id IN (SELECT id FROM old) RETURNING id": ".old SELECT, .t DELETE, .t SELECT",
		"TRUNCATE a, s.b":                  ".a TRUNCATE, s.b TRUNCATE",
		"COPY s.t FROM STDIN":              "s.t INSERT",
		"COPY (SELECT * FROM u) TO STDOUT": ".u SELECT",
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE":    ".s SELECT, .t DELETE, .t SELECT",
		"BEGIN; SET search_path = x; SELECT 1; COMMIT":                    "",
		"EXPLAIN SELECT * FROM t":                                         ".t SELECT",
		"SELECT nextval('seq'); SELECT * FROM a.b WHERE c IN (TABLE a.d)": "a.b SELECT, a.d SELECT",
	} {
		got, err := Uses(sql)
		if err != nil {
			t.Errorf("Uses(%q): %v", sql, err)
			continue
		}
		var s []string
		for _, u := range got {
			s = append(s, u.Schema+"."+u.Relation+" "+u.Privilege)
		}
		slices.Sort(s)
		if strings.Join(s, ", ") != want {
			t.Errorf("Uses(%q) = %s; want %s", sql, strings.Join(s, ", "), want)
		}
	}
	if _, err := Uses("SELEC 1"); err == nil {
		t.Error("a statement the parser refuses read as using nothing")
	}
}
