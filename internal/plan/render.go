package plan

import (
	"strings"

	"github.com/stile-dev/stile/internal/sqlq"
)

const rule = "-- ========================================================="

// LineKind says what a line of a rendered plan is.
type LineKind string

// Line kinds.
const (
	LineBlank     LineKind = "blank"
	LineComment   LineKind = "comment"
	LineMeta      LineKind = "meta"      // a psql meta-command (\connect)
	LineStatement LineKind = "statement" // BEGIN, COMMIT or a step's SQL
)

// Line is one line of a rendered plan: its text without the newline, its
// kind, and whether it belongs to a destructive step (the step's statement
// and the comment that says why). Renderers that mark a plan up (the web
// app) read Kind and Destructive here, never from the text.
type Line struct {
	Text        string
	Kind        LineKind
	Destructive bool
}

// Render returns the plan's SQL as a psql script: the role-level block, then
// one \connect + BEGIN … COMMIT block per database in name order, each
// step after a comment that says why it is there ("-- destructive: …" for
// what takes something away, for people reading the script). An empty plan
// is "-- no changes". Unmanaged items are listed as comments, one per line
// with line breaks removed, so no name can escape the comment. It is the
// text of Lines.
func Render(role string, blocks []Block, unmanaged []string) string {
	return Text(Lines(role, blocks, unmanaged))
}

// Text joins lines into the script they render, each ended by a newline.
func Text(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// Lines renders the plan line by line, from its steps: Render's script,
// with each line's kind and whether a destructive step makes it.
func Lines(role string, blocks []Block, unmanaged []string) []Line {
	var out []Line
	add := func(kind LineKind, destructive bool, text ...string) {
		for _, t := range text {
			out = append(out, Line{Text: t, Kind: kind, Destructive: destructive})
		}
	}
	if len(blocks) == 0 {
		add(LineComment, false, "-- no changes")
	}
	for i, blk := range blocks {
		if i > 0 {
			add(LineBlank, false, "", "")
		}
		if blk.Database == "" {
			add(LineComment, false, rule, "-- Role: "+comment(role), rule)
		} else {
			add(LineComment, false, rule, "-- Database: "+comment(blk.Database), rule)
			add(LineMeta, false, sqlq.PsqlConnect(blk.Database))
		}
		add(LineStatement, false, "BEGIN;")
		last := ""
		for _, s := range blk.Steps {
			if why := reasonLine(s); why != "" && why != last {
				add(LineComment, s.Destructive, why)
				last = why
			}
			add(LineStatement, s.Destructive, s.SQL+";")
		}
		add(LineStatement, false, "COMMIT;")
	}
	if len(unmanaged) > 0 {
		add(LineBlank, false, "")
		add(LineComment, false, rule, "-- Unmanaged: stile does not change these; resolve them by hand", rule)
		for _, u := range unmanaged {
			add(LineComment, false, "-- "+comment(u))
		}
	}
	return out
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
// step's says so first, for people reading the script.
func reasonLine(s Step) string {
	switch {
	case s.Reason == "":
		return ""
	case s.Destructive:
		return "-- destructive: " + comment(s.Reason)
	}
	return "-- " + comment(s.Reason)
}

// comment makes s safe inside a -- comment line.
func comment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
