// Command docs writes stile's command reference from the commands
// themselves (`make docs`): a Markdown page per command into docs/cli
// (stile.md is the index, each page links its parent and its
// subcommands) and a man page per command into docs/man (section 1).
// Both directories hold only what it writes: it empties them first, so a
// command that no longer exists loses its page. The output depends on the
// commands alone (no date, no environment), so running it on an unchanged
// tree writes the same bytes; docs_test.go fails when the committed pages
// differ from what it writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/stile-dev/stile/internal/cli"
	"github.com/stile-dev/stile/internal/daemon"
)

func main() {
	dir := flag.String("dir", "docs", "the directory that holds cli/ and man/")
	flag.Parse()
	if err := write(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

// generated marks each Markdown page as written by make docs.
const generated = "<!-- Generated from the commands by `make docs` (scripts/docs): edit the command's help, not this file. -->\n\n"

// write replaces dir/cli and dir/man with the reference generate writes.
func write(dir string) error {
	for _, sub := range []string{"cli", "man"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("remove old reference: %w", err)
		}
	}
	return generate(dir)
}

// generate writes the Markdown reference into dir/cli and the man pages
// into dir/man, making both directories.
func generate(dir string) error {
	md, man := filepath.Join(dir, "cli"), filepath.Join(dir, "man")
	for _, d := range []string{md, man} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("make reference directory: %w", err)
		}
	}
	// Each tree is built afresh: the generators add to the commands they
	// visit (a help flag), and each format escapes different texts.
	if err := doc.GenMarkdownTreeCustom(root(false), md, func(string) string { return generated }, func(link string) string { return link }); err != nil {
		return fmt.Errorf("write Markdown reference: %w", err)
	}
	// The date every man page's header shows is fixed: the default, today,
	// would change the pages on every run. It is the month the pages were
	// first generated, not when a command last changed.
	date := time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC)
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "stile", Manual: "stile manual"}
	if err := doc.GenManTree(root(true), header, man); err != nil {
		return fmt.Errorf("write man pages: %w", err)
	}
	return nil
}

// root is stile's whole command tree, the server's commands included, as
// the program builds it, with the text both generators read as Markdown
// escaped: each command's short and long description, and with flags its
// flags' usage (the man pages read them as Markdown; the Markdown pages
// show them verbatim).
func root(flags bool) *cobra.Command {
	r := cli.Root(daemon.Commands)
	r.DisableAutoGenTag = true
	seen := map[*pflag.Flag]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Short, c.Long = escape(c.Short), escape(c.Long)
		if flags {
			for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
				fs.VisitAll(func(f *pflag.Flag) {
					if !seen[f] {
						seen[f] = true
						f.Usage = escape(f.Usage)
					}
				})
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(r)
	return r
}

// escape makes help text written for a terminal read the same as
// Markdown: a <word> is text, not an HTML tag the page drops, and a * is a
// star, not emphasis. Lines indented by a tab or four spaces are
// Markdown's verbatim text already and are left as they are.
func escape(s string) string {
	special := strings.NewReplacer(`\`, `\\`, "<", `\<`, "*", `\*`)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "    ") {
			continue
		}
		lines[i] = special.Replace(l)
	}
	return strings.Join(lines, "\n")
}
