package web

import (
	"html"
	"html/template"
	"strings"

	"github.com/stile-dev/stile/internal/plan"
)

var sqlKeywords = map[string]bool{
	"GRANT": true, "REVOKE": true, "ON": true, "TO": true, "FROM": true, "ALL": true, "IN": true,
	"SCHEMA": true, "TABLES": true, "SEQUENCES": true, "ROUTINES": true, "FUNCTIONS": true, "TABLE": true,
	"SEQUENCE": true, "ROUTINE": true, "DATABASE": true, "CREATE": true, "ALTER": true, "ROLE": true,
	"DEFAULT": true, "PRIVILEGES": true, "FOR": true, "WITH": true, "BEGIN;": true, "COMMIT;": true,
	"SET": true, "RESET": true, "CASCADE": true, "OPTION": true, "GRANTED": true, "BY": true, "PASSWORD": true,
}

// planHTML renders a plan document's SQL as HTML from its steps
// (plan.Document.Lines): every piece of text is escaped first, then
// comments, psql meta-commands and keywords get a span, and the lines of a
// destructive step (its statement and the comment that says why) are
// marked as such (class d). Only whole unquoted words are matched, so names
// are never marked up. A document whose steps do not render to its SQL (a
// failed plan, or one made before documents carried their steps) is shown
// as its text, nothing marked destructive.
func planHTML(doc plan.Document) template.HTML {
	lines, ok := doc.Lines()
	if !ok {
		lines = textLines(doc.SQLPlan)
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case l.Kind == plan.LineComment && l.Destructive:
			b.WriteString(`<span class="c d">` + html.EscapeString(l.Text) + `</span>`)
		case l.Kind == plan.LineComment:
			b.WriteString(`<span class="c">` + html.EscapeString(l.Text) + `</span>`)
		case l.Kind == plan.LineMeta:
			b.WriteString(`<span class="m">` + html.EscapeString(l.Text) + `</span>`)
		case l.Destructive:
			b.WriteString(`<span class="d">` + highlightLine(l.Text) + `</span>`)
		default:
			b.WriteString(highlightLine(l.Text))
		}
	}
	return template.HTML(b.String())
}

// textLines splits SQL text into lines by their look alone: comments,
// meta-commands, the rest statements; none destructive, which only a
// plan's steps say.
func textLines(sql string) []plan.Line {
	var out []plan.Line
	for _, t := range strings.Split(strings.TrimRight(sql, "\n"), "\n") {
		l := plan.Line{Text: t, Kind: plan.LineStatement}
		switch {
		case t == "":
			l.Kind = plan.LineBlank
		case strings.HasPrefix(t, "--"):
			l.Kind = plan.LineComment
		case strings.HasPrefix(t, `\`):
			l.Kind = plan.LineMeta
		}
		out = append(out, l)
	}
	return out
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
