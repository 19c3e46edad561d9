package local

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func configFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	fs.String("listen", "127.0.0.1:8009", "address to listen on (env STILE_LISTEN)")
	fs.String("store", "", "store URL (env STILE_STORE)")
	fs.Duration("apply-timeout", 30*time.Minute, "an apply running longer fails")
	fs.Int("apply-parallel", 4, "clusters at once")
	fs.StringArray("oidc-group-map", nil, "PROVIDER=STILE (repeat)")
	fs.Bool("quiet", false, "say less")
	var file string
	var print bool
	AddConfigFlags(fs, &file, &print)
	return fs
}

// TestConfigFile: a file sets the flags it names; flags given on the
// command line beat the environment, which beats the file; bad keys and
// values name their line and set nothing they name.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "server.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := map[string]string{"STILE_STORE": "postgres://stile:hunter2@db/stile"}
	getenv := func(k string) string { return env[k] }

	fs := configFlagSet()
	if err := fs.Parse([]string{"--apply-parallel", "8"}); err != nil {
		t.Fatal(err)
	}
	path := write("listen: 0.0.0.0:9000\nstore: sqlite:/tmp/x.db\napply-timeout: 5m\napply-parallel: 2\noidc-group-map: [a=b, c=d]\nquiet: true\n")
	if err := ApplyConfigFile(fs, path, getenv, ConfigFlags()...); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	for name, want := range map[string]string{
		"listen":         "0.0.0.0:9000", // from the file
		"store":          "",             // STILE_STORE beats the file: the command reads it
		"apply-timeout":  "5m0s",
		"apply-parallel": "8", // the command line beats the file
		"oidc-group-map": "[a=b,c=d]",
		"quiet":          "true",
	} {
		if got := get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var out bytes.Buffer
	if err := PrintConfig(&out, fs, getenv, ConfigFlags()...); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listen: 0.0.0.0:9000  # file",
		"store: postgres://stile:***@db/stile  # env STILE_STORE",
		"apply-parallel: 8  # flag",
		"oidc-group-map: [a=b, c=d]  # file",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("print-config lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") || strings.Contains(out.String(), "print-config") {
		t.Errorf("print-config shows a secret or itself:\n%s", out.String())
	}
	// What it prints is a config file that sets the same values.
	again := configFlagSet()
	if err := ApplyConfigFile(again, write(out.String()), func(string) string { return "" }); err != nil {
		t.Fatalf("print-config's output as a config: %v", err)
	}
	for _, name := range []string{"listen", "apply-timeout", "apply-parallel", "oidc-group-map", "quiet"} {
		if a, b := again.Lookup(name).Value.String(), get(name); a != b {
			t.Errorf("%s read back as %q, was %q", name, a, b)
		}
	}

	for _, tt := range []struct{ body, want string }{
		{"listen: a:1\nlisten: b:2\n", `line 2: "listen" is given twice (line 1)`},
		{"lisen: a:1\n", `line 1: unknown key "lisen" (the keys are the flags: apply-parallel`},
		{"config: other.yaml\n", `line 1: unknown key "config"`},
		{"quiet: true\napply-timeout: soon\n", "line 2: apply-timeout: invalid argument"},
		{"listen: [a:1, b:2]\n", "line 1: listen takes one value, not a list"},
		{"listen: {a: 1}\n", "line 1: listen takes a value, not a mapping"},
		{"- listen\n", "line 1: want a mapping of flag names to values"},
		{"listen: [\n", "config " + filepath.Join(dir, "server.yaml") + ": yaml: line"},
	} {
		fs := configFlagSet()
		err := ApplyConfigFile(fs, write(tt.body), getenv, ConfigFlags()...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.body, err, tt.want)
		}
	}
	if err := ApplyConfigFile(configFlagSet(), filepath.Join(dir, "missing.yaml"), getenv); err == nil {
		t.Error("a missing config file is no error")
	}
}
