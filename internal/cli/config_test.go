package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerAndAgentConfig: stile server and stile agent read their flags
// from --config (or STILE_CONFIG), below the environment and the command
// line, and --print-config shows the result without running anything.
func TestServerAndAgentConfig(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	h := &harness{t: t, dir: dir, vars: map[string]string{"STILE_ROLE_PREFIX": "fromenv"}}
	server := h.write("server.yaml", "listen: 127.0.0.1:9123\ndata: "+data+"\nrole-prefix: fromfile\ndrift-every: 1h\noidc-scopes: [profile, email, groups]\n")
	out := h.ok("", "server", "--config", server, "--print-config", "--apply-parallel", "7")
	for _, want := range []string{
		"listen: 127.0.0.1:9123  # file",
		"role-prefix: fromenv  # env STILE_ROLE_PREFIX",
		"drift-every: 1h0m0s  # file",
		"apply-parallel: 7  # flag",
		"oidc-scopes: [profile, email, groups]  # file",
		"store: \"\"  # default",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("server --print-config lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("--print-config made the data directory")
	}
	// What the server would refuse, --print-config prints and refuses.
	refused := h.write("refused.yaml", "listen: 127.0.0.1:9123\ndata: "+data+"\npublic-url: http://stile.example.com\n")
	if out := h.fails(1, "--public-url must be an https:// URL", "", "server", "--config", refused, "--print-config"); !strings.Contains(out, "public-url: http://stile.example.com  # file") {
		t.Errorf("server --print-config of a refused config printed:\n%s", out)
	}
	h.vars["STILE_CONFIG"] = h.write("bad.yaml", "listen: 127.0.0.1:9123\ndrift: 1h\n")
	h.fails(1, `bad.yaml line 2: unknown key "drift"`, "", "server")
	delete(h.vars, "STILE_CONFIG")

	// An agent without its token would not start: --print-config says so.
	tokenless := h.write("tokenless.yaml", "url: https://stile.example.com\n")
	h.fails(1, "the agent needs --url (or STILE_URL) and its token", "", "agent", "--config", tokenless, "--print-config")
	agent := h.write("agent.yaml", "url: https://stile.example.com\nadmin-idle: 2m\ntoken-file: "+h.write("agent.token", "stla_agenttoken\n")+"\n")
	out = h.ok("", "agent", "--config", agent, "--print-config")
	for _, want := range []string{"url: https://stile.example.com  # file", "admin-idle: 2m0s  # file"} {
		if !strings.Contains(out, want) {
			t.Errorf("agent --print-config lacks %q:\n%s", want, out)
		}
	}
}
