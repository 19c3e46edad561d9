package guard

// cacheKey is sql with each number replaced by 1, when sql is plain enough
// for that to be exact: no quotes, dollar signs, backslashes, comments or
// bytes past ASCII, so every run of digits not inside a name is a numeric
// constant (1, 1.5, 1_000; one followed by a letter, 0x1F or 1e5,
// is kept as written). Guardrails never decide on a
// number's value (EXPLAIN (ANALYZE 0) counts as ANALYZE), so statements
// that differ only in their numbers share one parse: pgbench's and an
// ORM's queries with their values written in are parsed once. ok is false
// when sql is not that plain; it is then its own key.
func cacheKey(sql string) (string, bool) {
	digits := false
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"' || c == '$' || c == '\\' || c == '`' || c >= 0x80 || c == 0:
			return "", false
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-', c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			return "", false
		case c >= '0' && c <= '9':
			digits = true
		}
	}
	if !digits {
		return sql, true
	}
	b := make([]byte, 0, len(sql))
	for i := 0; i < len(sql); {
		c := sql[i]
		if c >= '0' && c <= '9' && (i == 0 || !identByte(sql[i-1])) {
			j := i
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if j < len(sql) && (sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z') {
				b = append(b, sql[i:j]...) // 0x1F, 0b1, 1e5: kept as written
			} else {
				b = append(b, '1')
			}
			i = j
			continue
		}
		b = append(b, c)
		i++
	}
	return string(b), true
}

// identByte reports whether c continues a name (or a number: the digits
// after 1e or 0x stay with their constant).
func identByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
