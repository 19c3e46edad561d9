package guard

import "strings"

type tokenKind int

const (
	word   tokenKind = iota // a keyword or an unquoted name
	quoted                  // a "quoted name"
	str                     // a string or dollar-quoted constant
	punct                   // ( ) , ; and other symbols
	number
)

type token struct {
	kind tokenKind
	text string
}

// word is the token lower-cased when it is a keyword or an unquoted name,
// else "" (a quoted name or a constant is never a keyword).
func (t token) word() string {
	if t.kind == word {
		return strings.ToLower(t.text)
	}
	if t.kind == punct {
		return t.text
	}
	return ""
}

func (t token) ident() bool { return t.kind == word || t.kind == quoted }

// tokens splits sql as PostgreSQL's lexer does, as far as statements'
// structure goes: comments (nested /* */ too) dropped, strings (E”, with
// doubled quotes and backslashes), quoted names and dollar-quoted bodies
// kept whole. Bytes past ASCII count as letters, as in PostgreSQL names.
func tokens(sql string) []token {
	var out []token
	n := len(sql)
	letter := func(c byte) bool { return c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < n && sql[i+1] == '-':
			for i < n && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && sql[i+1] == '*':
			depth := 0
			for i < n {
				if sql[i] == '/' && i+1 < n && sql[i+1] == '*' {
					depth++
					i += 2
				} else if sql[i] == '*' && i+1 < n && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'' || ((c == 'e' || c == 'E') && i+1 < n && sql[i+1] == '\''):
			escapes := c != '\''
			if escapes {
				i++
			}
			start := i
			i++
			for i < n {
				if escapes && sql[i] == '\\' {
					i += 2
					continue
				}
				if sql[i] == '\'' {
					if i+1 < n && sql[i+1] == '\'' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			out = append(out, token{str, sql[start:min(i, n)]})
		case c == '"':
			start := i
			i++
			for i < n {
				if sql[i] == '"' {
					if i+1 < n && sql[i+1] == '"' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			out = append(out, token{quoted, sql[start:min(i, n)]})
		case c == '$' && dollarTag(sql, i) != "":
			tag := dollarTag(sql, i)
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				out = append(out, token{str, sql[i:]})
				i = n
				break
			}
			stop := i + len(tag) + end + len(tag)
			out = append(out, token{str, sql[i:stop]})
			i = stop
		case letter(c):
			start := i
			for i < n && (letter(sql[i]) || digit(sql[i]) || sql[i] == '$') {
				i++
			}
			out = append(out, token{word, sql[start:i]})
		case digit(c):
			start := i
			for i < n && (digit(sql[i]) || sql[i] == '.' || sql[i] == 'e' || sql[i] == 'E') {
				i++
			}
			out = append(out, token{number, sql[start:i]})
		default:
			out = append(out, token{punct, string(c)})
			i++
		}
	}
	return out
}

// dollarTag is the $tag$ that opens a dollar-quoted string at i, or "".
func dollarTag(sql string, i int) string {
	for j := i + 1; j < len(sql); j++ {
		switch c := sql[j]; {
		case c == '$':
			return sql[i : j+1]
		case c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z') || (j > i+1 && c >= '0' && c <= '9'):
		default:
			return ""
		}
	}
	return ""
}

// statements splits tokens at top-level semicolons.
func statements(t []token) [][]token {
	var out [][]token
	start := 0
	for i, tk := range t {
		if tk.kind == punct && tk.text == ";" {
			if i > start {
				out = append(out, t[start:i])
			}
			start = i + 1
		}
	}
	if start < len(t) {
		out = append(out, t[start:])
	}
	return out
}
