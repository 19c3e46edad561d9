package guard

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	pgparser "github.com/wasilibs/go-pgquery/parser"
)

// Judged reports whether Uses can find that a statement needs privilege;
// statements cannot show the need of the others (REFERENCES and TRIGGER
// serve DDL, CREATE and EXECUTE are not table privileges).
func Judged(privilege string) bool {
	switch privilege {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE":
		return true
	}
	return false
}

// Use is a privilege a statement needs on a table (or view, or sequence
// read as one): Schema is "" when the statement did not name it (the
// search path decides).
type Use struct {
	Schema, Relation, Privilege string
}

// Uses reads, with PostgreSQL's parser, the table privileges sql's
// statements need: SELECT on what they read, INSERT, UPDATE, DELETE or
// TRUNCATE on what they change (UPDATE and DELETE with a WHERE or
// RETURNING read their table too). Names of common table expressions are
// not tables. A plain EXPLAIN needs what its statement needs (PostgreSQL
// checks them when it plans). An error is the parser's.
func Uses(sql string) ([]Use, error) {
	if strings.IndexByte(sql, 0) >= 0 {
		return nil, errors.New("a NUL byte")
	}
	js, err := pgparser.ParseToJSON(sql)
	if err != nil {
		if pe, ok := errors.AsType[*pgparser.Error](err); ok {
			return nil, errors.New(pe.Message)
		}
		return nil, errors.New("the parser failed")
	}
	var tree any
	if err := json.Unmarshal([]byte(js), &tree); err != nil {
		return nil, errors.New("an unreadable parse tree")
	}
	u := &uses{ctes: map[string]bool{}}
	u.walk(tree)
	out := u.found[:0]
	for _, x := range u.found {
		if x.Schema == "" && u.ctes[x.Relation] {
			continue
		}
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out, nil
}

type uses struct {
	found []Use
	ctes  map[string]bool
}

// add records privilege on the RangeVar rv (its fields, unwrapped).
func (u *uses) add(rv any, privilege string) {
	m, ok := rv.(map[string]any)
	if !ok {
		return
	}
	if inner, ok := m["RangeVar"].(map[string]any); ok {
		m = inner
	}
	name := str(m["relname"])
	if name == "" {
		return
	}
	u.found = append(u.found, Use{Schema: str(m["schemaname"]), Relation: name, Privilege: privilege})
}

func (u *uses) walk(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if m, ok := x.(map[string]any); ok && k != "" && k[0] >= 'A' && k[0] <= 'Z' {
				u.visit(k, m)
				continue
			}
			u.walk(x)
		}
	case []any:
		for _, x := range v {
			u.walk(x)
		}
	}
}

// except walks m's fields but skip.
func (u *uses) except(m map[string]any, skip string) {
	for k, x := range m {
		if k != skip {
			u.walk(x)
		}
	}
}

func (u *uses) visit(typ string, m map[string]any) {
	switch typ {
	case "RangeVar":
		u.add(m, "SELECT")
		return
	case "CommonTableExpr":
		u.ctes[str(m["ctename"])] = true
	case "InsertStmt":
		u.add(m["relation"], "INSERT")
		if oc, ok := m["onConflictClause"].(map[string]any); ok && oc["action"] == "ONCONFLICT_UPDATE" {
			u.add(m["relation"], "UPDATE")
		}
		u.except(m, "relation")
		return
	case "UpdateStmt", "DeleteStmt":
		u.add(m["relation"], strings.ToUpper(strings.TrimSuffix(typ, "Stmt")))
		if m["whereClause"] != nil || m["returningList"] != nil {
			u.add(m["relation"], "SELECT")
		}
		u.except(m, "relation")
		return
	case "TruncateStmt":
		rels, _ := m["relations"].([]any)
		for _, r := range rels {
			u.add(r, "TRUNCATE")
		}
		return
	case "CopyStmt":
		if m["relation"] != nil {
			priv := "SELECT"
			if m["is_from"] == true {
				priv = "INSERT"
			}
			u.add(m["relation"], priv)
		}
		u.except(m, "relation")
		return
	case "MergeStmt":
		u.add(m["relation"], "SELECT")
		clauses, _ := m["mergeWhenClauses"].([]any)
		for _, c := range clauses {
			if w, ok := c.(map[string]any)["MergeWhenClause"].(map[string]any); ok {
				if cmd := strings.TrimPrefix(str(w["commandType"]), "CMD_"); cmd == "INSERT" || cmd == "UPDATE" || cmd == "DELETE" {
					u.add(m["relation"], cmd)
				}
			}
		}
		u.except(m, "relation")
		return
	}
	u.walk(m)
}
