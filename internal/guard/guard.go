// Package guard decides whether a statement may run on a resource role with
// guardrails: kinds of statement blocked (DDL, DROP, TRUNCATE, DELETE or
// UPDATE without a WHERE, COPY … PROGRAM), and read_only, which refuses the
// statements that would undo a read-only session. It reads SQL with a small
// tokenizer (strings, quoted names, dollar quotes and comments are skipped
// as PostgreSQL's lexer does) and is conservative: what it cannot classify
// while a guardrail is on (DO blocks, dynamic EXECUTE, a statement it does
// not know) is refused, not let through. It is pure.
package guard

import (
	"fmt"
	"slices"
	"strings"
)

// Kinds of statement a guardrail can block.
const (
	DDL                = "ddl"                  // CREATE, ALTER, DROP, COMMENT, GRANT, REVOKE, …
	Drop               = "drop"                 // DROP …
	Truncate           = "truncate"             // TRUNCATE
	DeleteWithoutWhere = "delete_without_where" // DELETE with no WHERE
	UpdateWithoutWhere = "update_without_where" // UPDATE with no WHERE
	CopyProgram        = "copy_program"         // COPY … PROGRAM
)

// Kinds lists them.
var Kinds = []string{DDL, Drop, Truncate, DeleteWithoutWhere, UpdateWithoutWhere, CopyProgram}

// Policy is a role's guardrails.
type Policy struct {
	Block    []string `json:"block"`
	ReadOnly bool     `json:"read_only"`
}

// Validate checks p.
func (p Policy) Validate() error {
	for _, k := range p.Block {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("%q is not a kind of statement to block (%s)", k, strings.Join(Kinds, ", "))
		}
	}
	return nil
}

// Empty reports whether p guards nothing.
func (p Policy) Empty() bool { return len(p.Block) == 0 && !p.ReadOnly }

// ddlVerbs start a DDL statement.
var ddlVerbs = []string{"create", "alter", "drop", "comment", "grant", "revoke", "reindex", "cluster", "security", "import", "refresh", "truncate"}

// Check says why sql (one or more statements) may not run under p, or ""
// when it may.
func (p Policy) Check(sql string) string {
	if p.Empty() {
		return ""
	}
	for _, stmt := range statements(tokens(sql)) {
		if why := p.check(stmt); why != "" {
			return why
		}
	}
	return ""
}

func (p Policy) blocks(k string) bool {
	return slices.Contains(p.Block, k) || (k == Drop && slices.Contains(p.Block, DDL))
}

func (p Policy) check(t []token) string {
	if len(t) == 0 {
		return ""
	}
	verb := t[0].word()
	if p.ReadOnly {
		if why := readOnlyEscape(t); why != "" {
			return why
		}
	}
	switch verb {
	case "with":
		// The main statement and every data-modifying CTE are checked.
		for _, g := range groups(t) {
			if why := p.check(g); why != "" {
				return why
			}
		}
		main := afterCTEs(t)
		if main == nil && len(p.Block) > 0 {
			return "stile cannot read this WITH statement; a role with guardrails runs only statements it can"
		}
		return p.check(main)
	case "explain":
		// EXPLAIN ANALYZE runs its statement; a plain EXPLAIN does not.
		analyze := false
		for i, tk := range t[1:] {
			switch w := tk.word(); {
			case w == "analyze" || w == "analyse":
				analyze = true
			case analyze && slices.Contains(explained, w) && tk.kind == word:
				return p.check(t[i+1:])
			}
		}
		return ""
	case "delete":
		if p.blocks(DeleteWithoutWhere) && !hasTopLevel(t, "where") {
			return "DELETE without a WHERE is blocked on this role (add a WHERE, even WHERE true, to mean all rows)"
		}
	case "update":
		if p.blocks(UpdateWithoutWhere) && !hasTopLevel(t, "where") {
			return "UPDATE without a WHERE is blocked on this role (add a WHERE, even WHERE true, to mean all rows)"
		}
	case "truncate":
		if p.blocks(Truncate) || p.blocks(DDL) {
			return "TRUNCATE is blocked on this role"
		}
	case "drop":
		if p.blocks(Drop) {
			return "DROP is blocked on this role"
		}
	case "copy":
		if p.blocks(CopyProgram) && hasTopLevel(t, "program") {
			return "COPY … PROGRAM is blocked on this role"
		}
	case "do", "execute", "call", "prepare":
		if len(p.Block) > 0 {
			return fmt.Sprintf("%s is blocked on a role with guardrails: stile cannot see what it runs", strings.ToUpper(verb))
		}
	case "select", "insert", "values", "table", "show", "set", "reset", "begin", "start", "commit", "end", "rollback", "abort",
		"savepoint", "release", "fetch", "move", "close", "declare", "discard", "listen", "unlisten", "notify", "lock", "deallocate",
		"analyze", "analyse", "vacuum", "checkpoint", "load", "merge":
	default:
		if slices.Contains(ddlVerbs, verb) {
			if p.blocks(DDL) {
				return fmt.Sprintf("%s (DDL) is blocked on this role", strings.ToUpper(verb))
			}
			return ""
		}
		if len(p.Block) > 0 {
			return fmt.Sprintf("stile cannot tell what %q does; a role with guardrails runs only statements it can", strings.ToUpper(verb))
		}
	}
	return ""
}

// readOnlyEscape finds what would make a read-only session write.
func readOnlyEscape(t []token) string {
	words := make([]string, len(t))
	for i, tk := range t {
		words[i] = tk.word()
	}
	joined := " " + strings.Join(words, " ") + " "
	switch {
	case strings.Contains(joined, " read write "):
		return "this role is read-only: READ WRITE transactions are refused"
	case strings.Contains(joined, " default_transaction_read_only ") || strings.Contains(joined, " transaction_read_only "):
		return "this role is read-only: its read-only settings cannot be changed"
	case strings.Contains(joined, " set_config "):
		return "this role is read-only: set_config is refused"
	case strings.Contains(joined, " session characteristics "):
		return "this role is read-only: its session characteristics cannot be changed"
	}
	return ""
}

// hasTopLevel reports whether word appears outside parentheses.
func hasTopLevel(t []token, word string) bool {
	depth := 0
	for _, tk := range t {
		switch {
		case tk.text == "(":
			depth++
		case tk.text == ")":
			depth--
		case depth == 0 && tk.word() == word:
			return true
		}
	}
	return false
}

// groups returns the contents of each top-level parenthesized group.
func groups(t []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, tk := range t {
		switch tk.text {
		case "(":
			if depth == 0 {
				start = i + 1
			}
			depth++
		case ")":
			depth--
			if depth == 0 {
				out = append(out, t[start:i])
			}
		}
	}
	return out
}

// afterCTEs is a WITH statement's main statement: WITH [RECURSIVE] name
// [(columns)] AS [NOT] [MATERIALIZED] (query) [, …] main. Nil when it is
// not that shape.
func afterCTEs(t []token) []token {
	i := 1
	if i < len(t) && t[i].word() == "recursive" {
		i++
	}
	skipGroup := func() bool {
		if i >= len(t) || t[i].text != "(" {
			return false
		}
		depth := 0
		for ; i < len(t); i++ {
			switch t[i].text {
			case "(":
				depth++
			case ")":
				if depth--; depth == 0 {
					i++
					return true
				}
			}
		}
		return false
	}
	for {
		if i >= len(t) || !t[i].ident() {
			return nil
		}
		i++
		if i < len(t) && t[i].text == "(" && !skipGroup() {
			return nil
		}
		if i >= len(t) || t[i].word() != "as" {
			return nil
		}
		i++
		for i < len(t) && (t[i].word() == "not" || t[i].word() == "materialized") {
			i++
		}
		if !skipGroup() {
			return nil
		}
		if i < len(t) && t[i].text == "," {
			i++
			continue
		}
		return t[i:]
	}
}

// explained are the statements EXPLAIN takes.
var explained = []string{"select", "insert", "update", "delete", "merge", "with", "values", "table", "execute", "create", "declare"}

// ChangesSchema reports whether sql (one or more statements) may rename,
// add or drop columns or tables: CREATE, ALTER, DROP, IMPORT, or what stile
// cannot see into (DO, CALL, EXECUTE). Masking forgets the column names it
// resolved when one runs.
func ChangesSchema(sql string) bool {
	for _, stmt := range statements(tokens(sql)) {
		switch stmt[0].word() {
		case "create", "alter", "drop", "import", "do", "call", "execute":
			return true
		}
	}
	return false
}
