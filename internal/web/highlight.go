package web

import (
	"html"
	"html/template"
	"strings"
)

var sqlKeywords = map[string]bool{
	"GRANT": true, "REVOKE": true, "ON": true, "TO": true, "FROM": true, "ALL": true, "IN": true,
	"SCHEMA": true, "TABLES": true, "SEQUENCES": true, "ROUTINES": true, "FUNCTIONS": true, "TABLE": true,
	"SEQUENCE": true, "ROUTINE": true, "DATABASE": true, "CREATE": true, "ALTER": true, "ROLE": true,
	"DEFAULT": true, "PRIVILEGES": true, "FOR": true, "WITH": true, "BEGIN;": true, "COMMIT;": true,
	"SET": true, "RESET": true, "CASCADE": true, "OPTION": true, "GRANTED": true, "BY": true, "PASSWORD": true,
}

// destructiveMark starts the comment the planner writes before a step that
// takes something away (plan.Step.Destructive).
const destructiveMark = "-- destructive:"

// highlightSQL renders a plan's SQL as HTML: every piece of text is escaped
// first, then comments, psql meta-commands and keywords get a span. Only
// whole unquoted words are matched, so names are never marked up. The
// statements a "-- destructive:" comment introduces, up to the next comment,
// are marked as such (class d).
func highlightSQL(sql string) template.HTML {
	var b strings.Builder
	destructive := false
	for i, line := range strings.Split(strings.TrimRight(sql, "\n"), "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case strings.HasPrefix(line, destructiveMark):
			destructive = true
			b.WriteString(`<span class="c d">` + html.EscapeString(line) + `</span>`)
		case strings.HasPrefix(line, "--"):
			destructive = false
			b.WriteString(`<span class="c">` + html.EscapeString(line) + `</span>`)
		case strings.HasPrefix(line, `\`):
			destructive = false
			b.WriteString(`<span class="m">` + html.EscapeString(line) + `</span>`)
		case destructive && line != "COMMIT;" && line != "RESET ROLE;":
			b.WriteString(`<span class="d">` + highlightLine(line) + `</span>`)
		default:
			destructive = false
			b.WriteString(highlightLine(line))
		}
	}
	return template.HTML(b.String())
}

// highlightLine marks keywords outside quoted identifiers and literals.
func highlightLine(line string) string {
	var b strings.Builder
	var word strings.Builder
	flush := func() {
		w := word.String()
		if sqlKeywords[w] {
			b.WriteString(`<span class="k">` + html.EscapeString(w) + `</span>`)
		} else {
			b.WriteString(html.EscapeString(w))
		}
		word.Reset()
	}
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			word.WriteByte(c)
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			flush()
			quote = c
			word.WriteByte(c)
		case c == ' ' || c == ',' || c == '(' || c == ')':
			flush()
			b.WriteString(html.EscapeString(string(c)))
		default:
			word.WriteByte(c)
		}
	}
	flush()
	return b.String()
}
