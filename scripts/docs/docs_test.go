package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDocsCurrent holds the committed reference (docs/cli, docs/man) to
// what the commands say: it generates the reference afresh and compares
// it with the committed one file by file, both ways, naming each file
// missing, not generated any more, or changed.
func TestDocsCurrent(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cli", "man"} {
		if stale := compare(t, filepath.Join(dir, sub), filepath.Join("..", "..", "docs", sub)); len(stale) > 0 {
			t.Errorf("docs/%s is stale: run make docs (%s)", sub, strings.Join(stale, ", "))
		}
	}
}

// TestDocsDeterministic generates the reference twice and expects the
// same bytes: no date, no map order, no environment in it.
func TestDocsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	t.Setenv("STILE_URL", "http://example.test:1")
	if err := generate(a); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STILE_URL", "")
	if err := generate(b); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cli", "man"} {
		if diff := compare(t, filepath.Join(a, sub), filepath.Join(b, sub)); len(diff) > 0 {
			t.Errorf("two runs wrote different %s pages: %s", sub, strings.Join(diff, ", "))
		}
	}
}

// TestDocsCoverEveryCommand checks that the reference holds the server's
// commands (they come from daemon, not cli) and the index, and that a
// <word> in help survives as text.
func TestDocsCoverEveryCommand(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cli/stile.md", "cli/stile_server.md", "cli/stile_backup.md", "cli/stile_restore.md", "cli/stile_migrate-store.md", "cli/stile_resources_plan.md", "man/stile.1", "man/stile-server.1"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
	index, err := os.ReadFile(filepath.Join(dir, "cli", "stile.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[stile server](stile_server.md)", "Exit codes:", "\t3  an apply was refused for drift"} {
		if !bytes.Contains(index, []byte(want)) {
			t.Errorf("stile.md lacks %q", want)
		}
	}
	backup, err := os.ReadFile(filepath.Join(dir, "cli", "stile_backup.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(backup, []byte(`(\<data>/stile.db)`)) {
		t.Errorf("stile_backup.md does not escape <data>:\n%s", backup)
	}
}

// compare lists the differences between the generated files in got and
// the files in have, sorted by name.
func compare(t *testing.T, got, have string) []string {
	t.Helper()
	g, h := files(t, got), files(t, have)
	var names []string
	for name := range g {
		names = append(names, name)
	}
	for name := range h {
		if _, ok := g[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var diff []string
	for _, name := range names {
		gd, inGot := g[name]
		hd, inHave := h[name]
		switch {
		case !inHave:
			diff = append(diff, name+" missing")
		case !inGot:
			diff = append(diff, name+" is no command's")
		case !bytes.Equal(gd, hd):
			diff = append(diff, name+" changed")
		}
	}
	return diff
}

// files reads every file of dir by name; a directory that does not exist
// has none.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}
