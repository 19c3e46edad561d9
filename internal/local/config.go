package local

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// ConfigFlags are the flags a config file cannot set: AddConfigFlags's.
func ConfigFlags() []string { return []string{"config", "print-config"} }

// AddConfigFlags adds --config and --print-config to a long-running
// command's flags (the server's, the agent's).
func AddConfigFlags(fs *pflag.FlagSet, file *string, print *bool) {
	fs.StringVar(file, "config", "", "read settings from this YAML file (or STILE_CONFIG's): each key a flag's name; flags beat the environment, which beats the file")
	fs.BoolVar(print, "print-config", false, "print the effective settings, each with where it comes from, as a config file, and exit (with an error when the command would refuse them)")
}

// Configure is what a long-running command does with AddConfigFlags's
// flags before anything else: it applies the config file (file, else
// STILE_CONFIG's) to fs, then, when print is set, prints the effective
// settings to w. The command goes on to validate them, and stops there
// when print is set: what it printed is refused as the command would
// refuse it.
func Configure(fs *pflag.FlagSet, file string, print bool, getenv func(string) string, w io.Writer) error {
	if path := cmp.Or(file, getenv("STILE_CONFIG")); path != "" {
		if err := ApplyConfigFile(fs, path, getenv, ConfigFlags()...); err != nil {
			return err
		}
	}
	if print {
		return PrintConfig(w, fs, getenv, ConfigFlags()...)
	}
	return nil
}

// configSource is the annotation ApplyConfigFile leaves on the flags it set.
const configSource = "stile-config-file"

// FlagEnv returns the environment variable that stands for flag f, or "":
// the one its usage names ("env STILE_X"), which its command reads when
// the flag is not given.
func FlagEnv(f *pflag.Flag) string {
	if m := regexp.MustCompile(`\benv (STILE_[A-Z0-9_]+)`).FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// ApplyConfigFile sets the flags of fs from the YAML file at path: a
// mapping of flag names (without dashes) to values, a list for a flag that
// repeats. A flag given on the command line keeps its value, and so does
// one whose environment variable (FlagEnv) is set: flags beat the
// environment, which beats the file. The flags named in skip cannot be set
// from a file. An unknown key, a key given twice or a value the flag
// refuses is an error naming the file's line; secrets have no key (they
// come from files named by *-file keys, or from the environment).
func ApplyConfigFile(fs *pflag.FlagSet, path string, getenv func(string) string, skip ...string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("config %s line %d: want a mapping of flag names to values", path, m.Line)
	}
	var problems []string
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		name := k.Value
		f := fs.Lookup(name)
		switch {
		case f == nil || slices.Contains(skip, name):
			problems = append(problems, fmt.Sprintf("line %d: unknown key %q (the keys are the flags: %s)", k.Line, name, strings.Join(keys(fs, skip), ", ")))
			continue
		case seen[name] > 0:
			problems = append(problems, fmt.Sprintf("line %d: %q is given twice (line %d)", k.Line, name, seen[name]))
			continue
		}
		seen[name] = k.Line
		if f.Changed {
			continue // given on the command line
		}
		if env := FlagEnv(f); env != "" && getenv(env) != "" {
			continue // the environment beats the file
		}
		var values []string
		switch v.Kind {
		case yaml.ScalarNode:
			values = []string{v.Value}
		case yaml.SequenceNode:
			for _, x := range v.Content {
				if x.Kind != yaml.ScalarNode {
					problems = append(problems, fmt.Sprintf("line %d: %s takes a list of values, not of %s", x.Line, name, kind(x)))
					continue
				}
				values = append(values, x.Value)
			}
		default:
			problems = append(problems, fmt.Sprintf("line %d: %s takes a value, not %s", v.Line, name, kind(v)))
			continue
		}
		if len(values) > 1 && !strings.Contains(f.Value.Type(), "Slice") && !strings.Contains(f.Value.Type(), "Array") {
			problems = append(problems, fmt.Sprintf("line %d: %s takes one value, not a list", v.Line, name))
			continue
		}
		for _, x := range values {
			if err := fs.Set(name, x); err != nil {
				problems = append(problems, fmt.Sprintf("line %d: %s: %v", v.Line, name, err))
			}
		}
		fs.SetAnnotation(name, configSource, []string{path})
	}
	if len(problems) > 0 {
		return fmt.Errorf("config %s %s", path, strings.Join(problems, "; "))
	}
	return nil
}

func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "that"
}

func keys(fs *pflag.FlagSet, skip []string) []string {
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !slices.Contains(skip, f.Name) && f.Name != "help" {
			out = append(out, f.Name)
		}
	})
	return out
}

// PrintConfig writes the effective settings of fs as YAML a config file
// takes, each with where it comes from (flag, env, file or default). A
// value that is a URL holding a password shows *** in its place: secrets
// are never printed (no flag holds one).
func PrintConfig(w io.Writer, fs *pflag.FlagSet, getenv func(string) string, skip ...string) error {
	var b bytes.Buffer
	fs.VisitAll(func(f *pflag.Flag) {
		if slices.Contains(skip, f.Name) || f.Name == "help" {
			return
		}
		value, from := f.Value.String(), "default"
		switch env := FlagEnv(f); {
		case f.Annotations[configSource] != nil:
			from = "file"
		case f.Changed:
			from = "flag"
		case env != "" && getenv(env) != "":
			value, from = getenv(env), "env "+env
		}
		node := &yaml.Node{Kind: yaml.ScalarNode, Value: elide(value)}
		if value == "" {
			node.Style = yaml.DoubleQuotedStyle // "", not null
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok && !strings.HasPrefix(from, "env") {
			node = &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, x := range sv.GetSlice() {
				node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: elide(x)})
			}
		}
		out, _ := yaml.Marshal(map[string]*yaml.Node{f.Name: node})
		fmt.Fprintf(&b, "%s  # %s\n", strings.TrimRight(string(out), "\n"), from)
	})
	_, err := w.Write(b.Bytes())
	return err
}

// elide replaces the password of a URL by ***.
func elide(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, set := u.User.Password(); !set {
		return v
	}
	u.User = url.UserPassword(u.User.Username(), "***")
	return strings.Replace(u.String(), "%2A%2A%2A", "***", 1)
}
