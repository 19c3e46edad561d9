package guard

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

	pgparser "github.com/wasilibs/go-pgquery/parser"
)

// analysis is what guardrails need to know of one query string (one or
// more statements), read from PostgreSQL's own parse tree (libpg_query,
// PostgreSQL 17's grammar, run as WebAssembly). It does not depend on a
// policy, so one analysis serves every role; it is cached by text.
type analysis struct {
	// parseErr is the parser's error: the statement is refused, not
	// guessed at.
	parseErr string
	// deleteAll and updateAll: a DELETE or UPDATE with no WHERE anywhere
	// in the tree (a CTE, COPY (…), EXPLAIN ANALYZE, PREPARE, a rule's
	// action, a function's SQL body).
	deleteAll, updateAll bool
	merge                bool
	truncate             bool
	copyProgram          bool
	// drop and ddl name the first DROP and the first other DDL statement.
	drop, ddl string
	// opaque names a statement whose effect stile cannot see (DO, CALL).
	opaque string
	// readWrite says how the statement would undo a read-only session.
	readWrite string
	// pinned says how it would change a setting the parse depends on.
	pinned string
	// changesSchema: it may rename, add or drop columns or tables.
	changesSchema bool
	// ambiguous: the text has a backslash or a byte past ASCII, so how
	// PostgreSQL reads it depends on standard_conforming_strings and
	// client_encoding, which the parse takes as on and UTF8.
	ambiguous bool
}

// readOnlySettings undo a read-only session; pinnedSettings change how
// PostgreSQL's lexer reads the statements that follow.
var (
	readOnlySettings = []string{"default_transaction_read_only", "transaction_read_only"}
	pinnedSettings   = []string{"standard_conforming_strings", "client_encoding"}
)

// allowed are the statements that are not DDL. A statement type not listed
// (PostgreSQL has about 130) is DDL: guardrails fail closed.
var allowed = map[string]bool{
	"SelectStmt": true, "InsertStmt": true, "UpdateStmt": true, "DeleteStmt": true, "MergeStmt": true,
	"TransactionStmt": true, "VariableSetStmt": true, "VariableShowStmt": true, "ExplainStmt": true,
	"CopyStmt": true, "DeclareCursorStmt": true, "FetchStmt": true, "ClosePortalStmt": true,
	"ListenStmt": true, "UnlistenStmt": true, "NotifyStmt": true, "LockStmt": true, "DiscardStmt": true,
	"DeallocateStmt": true, "PrepareStmt": true, "ExecuteStmt": true, "VacuumStmt": true,
	"CheckPointStmt": true, "LoadStmt": true, "ConstraintsSetStmt": true, "CallStmt": true, "DoStmt": true,
	"TruncateStmt": true, "ReturnStmt": true, "PLAssignStmt": true, "RawStmt": true,
}

// ddlNames name the DDL statements whose type name reads badly.
var ddlNames = map[string]string{
	"CreateStmt": "CREATE TABLE", "IndexStmt": "CREATE INDEX", "ViewStmt": "CREATE VIEW", "GrantStmt": "GRANT/REVOKE",
	"GrantRoleStmt": "GRANT/REVOKE", "RenameStmt": "ALTER … RENAME", "CommentStmt": "COMMENT", "RuleStmt": "CREATE RULE",
	"DefineStmt": "CREATE", "CompositeTypeStmt": "CREATE TYPE", "CreateTableAsStmt": "CREATE TABLE AS",
	"SecLabelStmt": "SECURITY LABEL", "ReindexStmt": "REINDEX", "ClusterStmt": "CLUSTER",
	"RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW", "ImportForeignSchemaStmt": "IMPORT FOREIGN SCHEMA",
}

// stmtName turns a parse node's type into words: AlterTableStmt → ALTER TABLE.
func stmtName(typ string) string {
	if n, ok := ddlNames[typ]; ok {
		return n
	}
	var b strings.Builder
	for i, r := range strings.TrimSuffix(typ, "Stmt") {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// Checker reads statements for guardrails and keeps each analysis by text
// (or by cacheKey's shape of it), so a connection that sends the same
// statement again pays one map lookup. One is made where guardrails are
// wired (the service, one per server) and shared by every connection it
// filters; it is safe for concurrent use. A nil *Checker keeps nothing:
// it reads every statement afresh (Policy.Check, ChangesSchema).
type Checker struct {
	mu sync.Mutex
	m  map[string]*analysis
}

// NewChecker returns a Checker with nothing cached yet.
func NewChecker() *Checker { return &Checker{m: map[string]*analysis{}} }

const (
	maxCached    = 8192
	maxCachedLen = 16 << 10
)

// analyze reads sql, from c's cache when it can.
func (c *Checker) analyze(sql string) *analysis {
	key, ok := cacheKey(sql)
	if !ok {
		key = sql
	}
	cached := c != nil && len(key) <= maxCachedLen
	if cached {
		c.mu.Lock()
		a, hit := c.m[key]
		c.mu.Unlock()
		if hit {
			return a
		}
	}
	a := read(key)
	if cached {
		c.mu.Lock()
		if len(c.m) >= maxCached {
			clear(c.m)
		}
		c.m[key] = a
		c.mu.Unlock()
	}
	return a
}

// read parses sql with PostgreSQL's parser and walks the whole tree.
func read(sql string) *analysis {
	a := &analysis{}
	for i := 0; i < len(sql); i++ {
		if sql[i] == '\\' || sql[i] >= 0x80 {
			a.ambiguous = true
			break
		}
	}
	if strings.IndexByte(sql, 0) >= 0 {
		a.parseErr = "a NUL byte"
		a.changesSchema = true
		return a
	}
	js, err := pgparser.ParseToJSON(sql)
	if err != nil {
		// The parser's message is about the person's own statement.
		a.parseErr = "the parser failed"
		if pe, ok := errors.AsType[*pgparser.Error](err); ok {
			a.parseErr = pe.Message
		}
		a.changesSchema = true
		return a
	}
	var tree any
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		a.parseErr = "an unreadable parse tree"
		a.changesSchema = true
		return a
	}
	a.walk(tree)
	return a
}

// walk visits every node under v. A node is a one-key object whose key is
// its type (capitalised): {"DeleteStmt": {…}}.
func (a *analysis) walk(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if m, ok := x.(map[string]any); ok && k != "" && k[0] >= 'A' && k[0] <= 'Z' {
				a.visit(k, m)
				continue
			}
			a.walk(x)
		}
	case []any:
		for _, x := range v {
			a.walk(x)
		}
	}
}

func (a *analysis) visit(typ string, m map[string]any) {
	if strings.HasSuffix(typ, "Stmt") && !allowed[typ] {
		a.changesSchema = true
		if strings.HasPrefix(typ, "Drop") {
			if a.drop == "" {
				a.drop = stmtName(typ)
			}
		} else if a.ddl == "" {
			a.ddl = stmtName(typ)
		}
	}
	switch typ {
	case "DeleteStmt":
		a.deleteAll = a.deleteAll || m["whereClause"] == nil
	case "UpdateStmt":
		a.updateAll = a.updateAll || m["whereClause"] == nil
	case "MergeStmt":
		a.merge = true
	case "TruncateStmt":
		a.truncate = true
	case "CopyStmt":
		a.copyProgram = a.copyProgram || m["is_program"] == true
	case "SelectStmt":
		if m["intoClause"] != nil {
			a.changesSchema = true
			if a.ddl == "" {
				a.ddl = "SELECT INTO"
			}
		}
	case "DoStmt", "CallStmt":
		a.changesSchema = true
		if a.opaque == "" {
			a.opaque = strings.ToUpper(strings.TrimSuffix(typ, "Stmt"))
		}
	case "ExplainStmt":
		if !explainAnalyze(m) {
			// A plain EXPLAIN does not run its statement: only its
			// options are read.
			a.walk(m["options"])
			return
		}
	case "VariableSetStmt":
		// RESET ALL goes back to the session's start (its read-only
		// setting included); the filter follows the settings it reports.
		if m["kind"] != "VAR_RESET_ALL" {
			name := strings.ToLower(str(m["name"]))
			a.setting(name, "SET "+name)
		}
	case "FuncCall":
		if names, _ := m["funcname"].([]any); len(names) > 0 && str(stringNode(names[len(names)-1])) == "set_config" {
			args, _ := m["args"].([]any)
			name, ok := "", false
			if len(args) > 0 {
				name, ok = constString(args[0])
			}
			if !ok {
				a.setting("", "set_config with a setting's name stile cannot read")
			} else {
				a.setting(strings.ToLower(strings.TrimSpace(name)), "set_config('"+name+"', …)")
			}
		}
	case "DefElem":
		if m["defname"] == "transaction_read_only" && !isTrue(m["arg"]) && a.readWrite == "" {
			a.readWrite = "READ WRITE transactions are refused"
		}
	}
	a.walk(m)
}

// setting records a change of name ("" for one it cannot name) by how.
func (a *analysis) setting(name, how string) {
	ro := name == "" || contains(readOnlySettings, name)
	pin := name == "" || contains(pinnedSettings, name)
	if ro && a.readWrite == "" {
		a.readWrite = how + " is refused: it could undo the read-only setting"
	}
	if pin && a.pinned == "" {
		a.pinned = how + " is refused: stile reads this role's statements with standard_conforming_strings on and client_encoding UTF8, and a role with guardrails cannot change them"
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// explainAnalyze reports whether an EXPLAIN runs its statement: an ANALYZE
// option whose value is anything but a plain false or off.
func explainAnalyze(m map[string]any) bool {
	opts, _ := m["options"].([]any)
	for _, o := range opts {
		d, _ := o.(map[string]any)["DefElem"].(map[string]any)
		if d == nil || d["defname"] != "analyze" {
			continue
		}
		arg, ok := d["arg"]
		if !ok {
			return true
		}
		if s, ok := constString(arg); ok && (strings.EqualFold(s, "false") || strings.EqualFold(s, "off")) {
			continue
		}
		if b, _ := arg.(map[string]any)["Boolean"].(map[string]any); b != nil && b["boolval"] == nil {
			continue // false
		}
		return true
	}
	return false
}

// isTrue reports whether a DefElem's argument is the constant true (1): a
// transaction's read-only option.
func isTrue(arg any) bool {
	c, _ := arg.(map[string]any)["A_Const"].(map[string]any)
	iv, _ := c["ival"].(map[string]any)
	return iv != nil && iv["ival"] == float64(1)
}

// constString is a string constant's value: 'x', 'x'::type, or a String node.
func constString(v any) (string, bool) {
	m, _ := v.(map[string]any)
	if tc, ok := m["TypeCast"].(map[string]any); ok {
		return constString(tc["arg"])
	}
	if c, ok := m["A_Const"].(map[string]any); ok {
		if sv, ok := c["sval"].(map[string]any); ok {
			s, ok := sv["sval"].(string)
			return s, ok || sv["sval"] == nil
		}
		return "", false
	}
	if s, ok := m["String"].(map[string]any); ok {
		return str(s["sval"]), true
	}
	return "", false
}

// stringNode is a String node's fields.
func stringNode(v any) any {
	m, _ := v.(map[string]any)
	s, _ := m["String"].(map[string]any)
	return s["sval"]
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
