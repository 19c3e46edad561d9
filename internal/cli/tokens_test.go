package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretsNeverOnTheCommandLine: no command takes a token or a password
// as an argument, where every process list would show it; the API token and
// an agent's token come from the environment or from --token-file, a store
// URL with a password from STILE_STORE.
func TestSecretsNeverOnTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	h := startServer(t, dir)
	if code, _, errOut := h.stile("", "--token", "x", "resources", "list"); code == 0 || !strings.Contains(errOut, "unknown flag: --token") {
		t.Fatalf("--token on the command line: exit %d\n%s", code, errOut)
	}
	wrong := h.write("wrong.token", "stlp_wrong\n")
	h.fails(4, "missing or wrong API token", "", "--token-file", wrong, "resources", "list")
	h.fails(1, "read --token-file", "", "--token-file", filepath.Join(dir, "missing"), "resources", "list")
	h.ok("", "--token-file", filepath.Join(dir, "admin.token"), "resources", "list")

	agentToken := strings.TrimSpace(h.ok("", "agents", "create", "edge"))
	if !strings.HasPrefix(agentToken, "stla_") || strings.ContainsAny(agentToken, " \n") {
		t.Fatalf("agents create printed %q, want the token alone", agentToken)
	}
	file := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(file, []byte(agentToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := runAgent(t, h, "edge", map[string]string{}, "--token-file", file)
	stop()

	withPassword := "postgres://stile:s3cret@127.0.0.1:1/stile"
	h.fails(1, "process lists", "", "server", "--listen", freeAddr(t), "--store", withPassword)
	h.fails(1, "process lists", "", "migrate-store", "--from", "sqlite:"+filepath.Join(dir, "stile.db"), "--to", withPassword)
}
