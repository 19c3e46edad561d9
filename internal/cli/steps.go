package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/stile-dev/stile/internal/api"
)

// printDestructive tells a person, after a plan document, which of its
// steps take something away, from the document's steps (never from its
// text): one line each, where it runs, its statement and why. A plan with
// none, or a document without steps (a failed plan, or one made before
// documents carried them), prints nothing.
func printDestructive(w io.Writer, doc *api.PlanDocument) {
	if doc == nil {
		return
	}
	var lines []string
	for _, b := range doc.Blocks {
		where := "role"
		if b.Database != "" {
			where = "database " + strconv.Quote(b.Database)
		}
		for _, s := range b.Steps {
			if !s.Destructive {
				continue
			}
			l := "  " + where + ": " + printable(s.SQL) + ";"
			if s.Reason != "" {
				l += "  (" + printable(s.Reason) + ")"
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "Destructive: %d step(s) of this plan take something away:\n%s\n", len(lines), strings.Join(lines, "\n"))
}

// printable replaces control characters (a line break in a quoted name)
// so that a step stays on its line of the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
