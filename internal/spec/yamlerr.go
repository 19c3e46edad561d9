package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stile-dev/stile/internal/errs"
)

var yamlFieldTwice = regexp.MustCompile(`^(line \d+): field (.+) already set in type .+$`)

var yamlWrongKind = regexp.MustCompile("^(line \\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")

// yamlProblems says what is wrong with a YAML document in words for people
// (the decoder's messages name Go types, which mean nothing to them), one
// string per problem.
func yamlProblems(err error) []string {
	te, ok := errors.AsType[*yaml.TypeError](err)
	if !ok {
		// The decoder's message is about the person's own document.
		return []string{errs.Invalidf("%s", strings.TrimPrefix(err.Error(), "yaml: ")).Message}
	}
	out := make([]string, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if m := yamlFieldTwice.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("%s: field %q appears twice", m[1], m[2])
		} else if m := yamlWrongKind.FindStringSubmatch(msg); m != nil {
			found := yamlKinds[m[2]]
			if found == "" {
				found = m[2]
			}
			if m[3] != "" {
				found += fmt.Sprintf(" %q", m[3])
			}
			want := "a mapping (key: value)"
			switch {
			case strings.HasPrefix(m[4], "[]"):
				want = "a list"
			case m[4] == "string":
				want = "text"
			}
			msg = fmt.Sprintf("%s: want %s, found %s", m[1], want, found)
		}
		out = append(out, msg)
	}
	return out
}

var yamlKinds = map[string]string{
	"!!str": "text", "!!int": "a number", "!!float": "a number", "!!bool": "true or false",
	"!!null": "nothing", "!!seq": "a list", "!!map": "a mapping", "!!timestamp": "a timestamp",
	"!!binary": "binary data",
}

// closest returns the known name nearest to name (an edit or two away, or
// one a prefix of the other), or "": never name itself, which is no
// suggestion.
func closest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if k == name {
			continue
		}
		d := editDistance(strings.ToLower(name), k)
		if strings.HasPrefix(k, name) || strings.HasPrefix(name, k) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// FileKind is what a file given to a command looks like.
type FileKind string

// File kinds.
const (
	KindPlanFile  FileKind = "plan file"             // YAML items:
	KindResults   FileKind = "results file"          // YAML results: (plan -o)
	KindInventory FileKind = "inventory CSV"         // name,type,host,port
	KindRolesCSV  FileKind = "roles CSV"             // resource_name,type,role
	KindAdminsCSV FileKind = "admin credentials CSV" // name,admin_user,password
	// KindPlanDocument is one plan as plan status (or plan NAME --role)
	// prints it: sid:, config:, sql_plan:.
	KindPlanDocument FileKind = "plan document"
	KindUnknownFile  FileKind = ""
)

// Sniff says what data looks like, from its CSV header or its first
// top-level YAML key, without parsing it all.
func Sniff(data []byte) FileKind {
	text := strings.TrimPrefix(string(data), "\ufeff")
	for _, line := range strings.Split(text, "\n") {
		l := strings.ToLower(strings.TrimSpace(line))
		if l == "" || strings.HasPrefix(l, "#") || l == "---" {
			continue
		}
		switch {
		case strings.HasPrefix(l, "resource_name,"):
			return KindRolesCSV
		case strings.HasPrefix(l, "name,") && strings.Contains(l, "admin_user"):
			return KindAdminsCSV
		case strings.HasPrefix(l, "name,"):
			return KindInventory
		case strings.HasPrefix(l, "items:"):
			return KindPlanFile
		case strings.HasPrefix(l, "results:"):
			return KindResults
		case strings.HasPrefix(l, "sid:"), strings.HasPrefix(l, "config:"), strings.HasPrefix(l, "current_state:"), strings.HasPrefix(l, "sql_plan:"):
			return KindPlanDocument
		}
		return KindUnknownFile
	}
	return KindUnknownFile
}

// WithArticle is k with "a" or "an" in front: "a plan file".
func (k FileKind) WithArticle() string {
	if k == KindUnknownFile {
		return "a file of unknown kind"
	}
	if strings.ContainsAny(string(k)[:1], "aeiou") {
		return "an " + string(k)
	}
	return "a " + string(k)
}
