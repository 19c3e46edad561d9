package spec

import (
	"cmp"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxAliasValues is how many values YAML aliases (*name) may add to a file
// once expanded. Past it the file is refused: a few aliases that repeat
// each other (an "alias bomb") would otherwise make a small file decode to
// millions of values, and one mistake in them be reported once per copy.
const MaxAliasValues = 10000

// YAMLError is what is wrong with a YAML document, in words for people:
// each problem once, in line order, most of them starting "line N: ".
type YAMLError struct {
	Problems []string
}

func (e *YAMLError) Error() string { return strings.Join(e.Problems, "; ") }

// In names the file once in front of the problems: "FILE line 4: …; line
// 9: …", or "FILE: …" when the first problem has no line.
func (e *YAMLError) In(file string) string {
	if strings.HasPrefix(e.Error(), "line ") {
		return file + " " + e.Error()
	}
	return file + ": " + e.Error()
}

// DecodeYAML decodes one YAML document strictly into v (a pointer): a key
// that v's type does not have is a problem (with a "did you mean" among the
// keys allowed where it stands), as is a key given twice or a value of the
// wrong kind. Aliases are expanded first, each copy reported at the line of
// the alias that made it, up to MaxAliasValues values. It returns io.EOF
// when data holds no document, and a *YAMLError otherwise.
func DecodeYAML(data []byte, v any) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &YAMLError{Problems: yamlProblems(err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return io.EOF
	}
	x := expander{}
	x.expand(&doc)
	if x.err != "" {
		return &YAMLError{Problems: []string{x.err}}
	}
	var problems []string
	unknownKeys(&doc, reflect.TypeOf(v), &problems)
	if err := doc.Decode(v); err != nil {
		problems = append(problems, yamlProblems(err)...)
	}
	if len(problems) == 0 {
		return nil
	}
	return &YAMLError{Problems: sortProblems(problems)}
}

// expander replaces alias nodes by copies of what they name, counting the
// values it adds.
type expander struct {
	added int
	err   string
}

func (x *expander) expand(n *yaml.Node) {
	for i, c := range n.Content {
		if x.err != "" {
			return
		}
		if c.Kind != yaml.AliasNode {
			x.expand(c)
			continue
		}
		cp := x.copy(c.Alias, c)
		if cp == nil {
			return
		}
		cp.Line, cp.Column = c.Line, c.Column
		n.Content[i] = cp
	}
}

// copy deep-copies n, expanding the aliases inside it; at names the alias
// being expanded, for the error past the limit.
func (x *expander) copy(n, at *yaml.Node) *yaml.Node {
	if n == nil {
		x.err = fmt.Sprintf("line %d: alias *%s names nothing", at.Line, at.Value)
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return x.copy(n.Alias, at)
	}
	if x.added++; x.added > MaxAliasValues {
		x.err = fmt.Sprintf("line %d: YAML aliases (*%s) make this file more than %d values: write the entries out", at.Line, at.Value, MaxAliasValues)
		return nil
	}
	cp := *n
	cp.Anchor = ""
	cp.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		if cp.Content[i] = x.copy(c, at); cp.Content[i] == nil {
			return nil
		}
	}
	return &cp
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// unknownKeys adds a problem for each key of n that t (the Go type n
// decodes into) does not have, suggesting the nearest key t has.
func unknownKeys(n *yaml.Node, t reflect.Type, problems *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			unknownKeys(c, t, problems)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		names := slices.Sorted(func(yield func(string) bool) {
			for k := range fields {
				if !yield(k) {
					return
				}
			}
		})
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				for _, m := range append([]*yaml.Node{val}, val.Content...) {
					if m.Kind == yaml.MappingNode {
						unknownKeys(m, t, problems)
					}
				}
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("line %d: unknown field %q", k.Line, k.Value)
				switch near := closest(k.Value, names); {
				case near != "":
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				case len(names) == 1:
					msg += fmt.Sprintf(" (the only key here is %q)", names[0])
				case len(names) > 1:
					msg += " (the keys here: " + strings.Join(names, ", ") + ")"
				}
				*problems = append(*problems, msg)
				continue
			}
			unknownKeys(val, ft, problems)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, c := range n.Content {
				unknownKeys(c, t.Elem(), problems)
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				unknownKeys(n.Content[i], t.Elem(), problems)
			}
		}
	}
}

// yamlFields maps the keys a struct takes in YAML (its fields' yaml tags,
// inlined structs included) to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if tag[0] == "-" {
			continue
		}
		if slices.Contains(tag[1:], "inline") && f.Type.Kind() == reflect.Struct {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		out[cmp.Or(tag[0], strings.ToLower(f.Name))] = f.Type
	}
	return out
}

var problemLine = regexp.MustCompile(`^line (\d+):`)

// sortProblems returns problems in line order (those without a line last),
// each once.
func sortProblems(problems []string) []string {
	line := func(p string) int {
		if m := problemLine.FindStringSubmatch(p); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 1 << 30
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range problems {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return cmp.Compare(line(a), line(b)) })
	return out
}
