package spec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/stile-dev/stile/internal/errs"
)

// ResourceRow is one data row of an inventory CSV: the parsed resource or why
// it is invalid.
type ResourceRow struct {
	Line     int      `json:"line"`
	Resource Resource `json:"resource"`
	Error    string   `json:"error,omitempty"`
}

// ReadCSV reads a CSV with a header row. required columns must all be present;
// a column outside required+optional is an error, as is a malformed file. It
// returns one map per data row, keyed by lower-cased column name, and the
// 1-based line number of each row.
func ReadCSV(data []byte, required, optional []string) ([]map[string]string, []int, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errs.Invalidf("CSV is empty: want a header row %s", strings.Join(required, ","))
	}
	if err != nil {
		return nil, nil, errs.Invalidf("CSV: %v", err)
	}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		header[i] = h
		if !slices.Contains(required, h) && !slices.Contains(optional, h) {
			return nil, nil, errs.Invalidf("CSV: unknown column %q (want %s)", h, strings.Join(append(slices.Clone(required), optional...), ","))
		}
		if slices.Index(header[:i], h) >= 0 {
			return nil, nil, errs.Invalidf("CSV: column %q appears twice", h)
		}
	}
	for _, c := range required {
		if !slices.Contains(header, c) {
			return nil, nil, errs.Invalidf("CSV: missing column %q", c)
		}
	}
	var rows []map[string]string
	var lines []int
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errs.Invalidf("CSV: %v", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ := r.FieldPos(0)
		row := make(map[string]string, len(header))
		for i, h := range header {
			row[h] = strings.TrimSpace(rec[i])
		}
		rows = append(rows, row)
		lines = append(lines, line)
	}
	return rows, lines, nil
}

// ParseResourcesCSV parses an inventory CSV (name,type,host,port and the
// optional database, sslmode). File-level problems are an error; each row
// carries its own validation error.
func ParseResourcesCSV(data []byte) ([]ResourceRow, error) {
	rows, lines, err := ReadCSV(data, []string{"name", "type", "host", "port"}, []string{"database", "sslmode"})
	if err != nil {
		return nil, err
	}
	out := make([]ResourceRow, 0, len(rows))
	seen := map[string]int{}
	for i, row := range rows {
		rr := ResourceRow{Line: lines[i]}
		res := Resource{Name: row["name"], Type: row["type"], Host: row["host"], Database: row["database"], SSLMode: row["sslmode"]}
		port, err := ParsePort(row["port"])
		if err == nil {
			res.Port = port
			res, err = res.Normalize()
		}
		rr.Resource = res
		if err != nil {
			rr.Error = errs.Public(nil, err, "line", lines[i])
		} else if prev, dup := seen[res.Name]; dup {
			rr.Error = fmt.Sprintf("name %q repeats line %d", res.Name, prev)
		} else {
			seen[res.Name] = lines[i]
		}
		out = append(out, rr)
	}
	if len(out) == 0 {
		return nil, errs.Invalidf("CSV has a header but no rows")
	}
	return out, nil
}

// ParseAdminsCSV parses an admin credentials CSV (name,admin_user,password).
func ParseAdminsCSV(data []byte) ([]Admin, error) {
	rows, lines, err := ReadCSV(data, []string{"name", "admin_user", "password"}, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Admin, 0, len(rows))
	for i, row := range rows {
		a := Admin{Resource: row["name"], User: row["admin_user"], Password: row["password"]}
		if err := a.Validate(); err != nil {
			return nil, errs.Invalidf("line %d: %v", lines[i], err)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, errs.Invalidf("CSV has a header but no rows")
	}
	return out, nil
}

// PlanFile is the YAML plan file: a list of roles to plan.
type PlanFile struct {
	Items []Role `yaml:"items"`
}

// ParsePlanFile reads a plan file in either format: the roles CSV
// (resource_name,type,role,scopes,permissions,source_role with
// ';'-separated lists) or YAML with items:. Unknown fields or columns are
// errors, and so is a results file or a plan document given instead. name
// is how the errors name the file (its path, once). Items are returned as
// written; see ValidateBatch.
func ParsePlanFile(name string, data []byte) ([]Role, error) {
	switch k := Sniff(data); k {
	case KindRolesCSV:
		items, err := parseRolesCSV(data)
		if err != nil {
			return nil, errs.Invalidf("%s: %s", name, strings.TrimPrefix(err.Error(), "CSV: "))
		}
		return items, nil
	case KindResults, KindPlanDocument, KindInventory, KindAdminsCSV:
		return nil, errs.Invalidf("%s looks like %s, not a plan file", name, k.WithArticle())
	}
	var f PlanFile
	if err := DecodeYAML(data, &f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalidf("%s is empty", name)
		}
		if ye, ok := errors.AsType[*YAMLError](err); ok {
			return nil, errs.Invalidf("%s", ye.In(name))
		}
		return nil, errs.Invalidf("%s: %v", name, err)
	}
	if len(f.Items) == 0 {
		return nil, errs.Invalidf("%s has no items", name)
	}
	return f.Items, nil
}

func parseRolesCSV(data []byte) ([]Role, error) {
	rows, _, err := ReadCSV(data, []string{"resource_name", "type", "role"}, []string{"scopes", "permissions", "source_role", "rotate_password"})
	if err != nil {
		return nil, err
	}
	out := make([]Role, 0, len(rows))
	for _, row := range rows {
		out = append(out, Role{
			Resource:       row["resource_name"],
			Type:           row["type"],
			Label:          row["role"],
			Scopes:         splitList(row["scopes"], ";"),
			Privileges:     splitList(row["permissions"], ";"),
			SourceRole:     row["source_role"],
			RotatePassword: strings.EqualFold(row["rotate_password"], "true"),
		})
	}
	if len(out) == 0 {
		return nil, errs.Invalidf("CSV has a header but no rows")
	}
	return out, nil
}

// SplitList splits a comma list (as --scopes and --privileges take), dropping
// empty entries. Commas inside double quotes do not split.
func SplitList(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, splitList(v, ",")...)
	}
	return out
}

func splitList(s, sep string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			inQuote = !inQuote
		}
		if !inQuote && strings.HasPrefix(s[i:], sep) {
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, t)
			}
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}
