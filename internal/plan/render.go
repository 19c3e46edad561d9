package plan

import (
	"strings"

	"github.com/stile-dev/stile/internal/sqlq"
)

const rule = "-- ========================================================="

// Render returns the plan's SQL as a psql script: the role-level block, then
// one \connect + BEGIN … COMMIT block per database in name order, each
// step after a comment that says why it is there ("-- destructive: …" for
// what takes something away). An empty plan is "-- no changes". Unmanaged
// items are listed as comments, one per line with line breaks removed, so no
// name can escape the comment.
func Render(role string, blocks []Block, unmanaged []string) string {
	var b strings.Builder
	if len(blocks) == 0 {
		b.WriteString("-- no changes\n")
	}
	for i, blk := range blocks {
		if i > 0 {
			b.WriteString("\n\n")
		}
		if blk.Database == "" {
			b.WriteString(rule + "\n-- Role: " + comment(role) + "\n" + rule + "\n")
			b.WriteString("BEGIN;\n")
		} else {
			b.WriteString(rule + "\n-- Database: " + comment(blk.Database) + "\n" + rule + "\n")
			b.WriteString(sqlq.PsqlConnect(blk.Database) + "\nBEGIN;\n")
		}
		last := ""
		for _, s := range blk.Steps {
			if why := reasonLine(s); why != "" && why != last {
				b.WriteString(why)
				last = why
			}
			b.WriteString(s.SQL + ";\n")
		}
		b.WriteString("COMMIT;\n")
	}
	if len(unmanaged) > 0 {
		b.WriteString("\n" + rule + "\n-- Unmanaged: stile does not change these; resolve them by hand\n" + rule + "\n")
		for _, u := range unmanaged {
			b.WriteString("-- " + comment(u) + "\n")
		}
	}
	return b.String()
}

// RenderFailed is the SQL of a failed plan: only comments, the reasons
// first, so nothing in it runs.
func RenderFailed(reasons, unmanaged []string) string {
	var b strings.Builder
	b.WriteString("-- plan failed: no SQL until the reasons below are fixed; then re-plan\n")
	for _, r := range reasons {
		b.WriteString("-- " + comment(r) + "\n")
	}
	if len(unmanaged) > 0 {
		b.WriteString("-- unmanaged:\n")
		for _, u := range unmanaged {
			b.WriteString("--   " + comment(u) + "\n")
		}
	}
	return b.String()
}

// reasonLine is the comment that says why a step is there; a destructive
// step's says so first, which the web app marks.
func reasonLine(s Step) string {
	switch {
	case s.Reason == "":
		return ""
	case s.Destructive:
		return "-- destructive: " + comment(s.Reason) + "\n"
	}
	return "-- " + comment(s.Reason) + "\n"
}

// comment makes s safe inside a -- comment line.
func comment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
