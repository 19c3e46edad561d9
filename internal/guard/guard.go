// Package guard decides whether a statement may run on a resource role with
// guardrails: kinds of statement blocked (DDL, DROP, TRUNCATE, DELETE or
// UPDATE without a WHERE, MERGE, COPY … PROGRAM), and read_only, which
// refuses the statements that would undo a read-only session. It decides
// on PostgreSQL's own parse tree (libpg_query as WebAssembly: no cgo) and
// fails closed: a statement the parser refuses, one whose effect stile
// cannot see (DO, CALL), a statement type it does not know (counted as
// DDL), or one whose reading depends on settings stile cannot be sure of,
// is refused while a guardrail is on. It has no I/O and no state of its
// own: parses are cached by text in a Checker its user makes and keeps.
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
	Merge              = "merge"                // MERGE (its ON is its WHERE: it can delete every row)
	CopyProgram        = "copy_program"         // COPY … PROGRAM
)

// Kinds lists them.
var Kinds = []string{DDL, Drop, Truncate, DeleteWithoutWhere, UpdateWithoutWhere, Merge, CopyProgram}

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

// Check says why sql (one or more statements) may not run under p, or ""
// when it may. settled says that the session reads statements as the
// parser does (standard_conforming_strings on, client_encoding UTF8) and
// that nothing sent before sql is still running (and could change them):
// when it is false, a statement whose reading depends on them (a backslash
// or a character past ASCII) is refused. It parses sql afresh; a server
// checks through its Checker (Checker.Check), which answers the same.
func (p Policy) Check(sql string, settled bool) string {
	return (*Checker)(nil).Check(p, sql, settled)
}

// Check is p.Check(sql, settled), reading sql through c's cache.
func (c *Checker) Check(p Policy, sql string, settled bool) string {
	if p.Empty() {
		return ""
	}
	a := c.analyze(sql)
	switch {
	case a.parseErr != "":
		return fmt.Sprintf("stile cannot read this statement (%s); a role with guardrails runs only statements PostgreSQL's parser reads", a.parseErr)
	case a.ambiguous && !settled:
		return "this statement has a backslash or a character past ASCII, and stile cannot be sure how PostgreSQL reads it here (standard_conforming_strings is not on, client_encoding is not UTF8, or a statement sent before it is still running): send it on its own, with standard_conforming_strings on and client_encoding UTF8"
	case a.pinned != "":
		return a.pinned
	case p.ReadOnly && a.readWrite != "":
		return "this role is read-only: " + a.readWrite
	case a.opaque != "":
		return fmt.Sprintf("%s is blocked on a role with guardrails: stile cannot see what it runs", a.opaque)
	case p.blocks(DDL) && a.ddl != "":
		return fmt.Sprintf("%s (DDL) is blocked on this role", a.ddl)
	case p.blocks(Drop) && a.drop != "":
		return fmt.Sprintf("%s is blocked on this role", a.drop)
	case (p.blocks(Truncate) || p.blocks(DDL)) && a.truncate:
		return "TRUNCATE is blocked on this role"
	case p.blocks(DeleteWithoutWhere) && a.deleteAll:
		return "DELETE without a WHERE is blocked on this role (add a WHERE, even WHERE true, to mean all rows)"
	case p.blocks(UpdateWithoutWhere) && a.updateAll:
		return "UPDATE without a WHERE is blocked on this role (add a WHERE, even WHERE true, to mean all rows)"
	case p.blocks(Merge) && a.merge:
		return "MERGE is blocked on this role"
	case p.blocks(CopyProgram) && a.copyProgram:
		return "COPY … PROGRAM is blocked on this role"
	}
	return ""
}

func (p Policy) blocks(k string) bool {
	return slices.Contains(p.Block, k) || (k == Drop && slices.Contains(p.Block, DDL))
}

// ChangesSchema reports whether sql (one or more statements) may rename,
// add or drop columns or tables: DDL, or what stile cannot see into (DO,
// CALL), or a statement the parser cannot read. Masking forgets the column
// names it resolved when one runs. It parses sql afresh; a server asks its
// Checker (Checker.ChangesSchema).
func ChangesSchema(sql string) bool { return (*Checker)(nil).ChangesSchema(sql) }

// ChangesSchema is ChangesSchema(sql), reading sql through c's cache.
func (c *Checker) ChangesSchema(sql string) bool { return c.analyze(sql).changesSchema }
