package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsEndpoints: /metrics on the API listener needs the admin token;
// --metrics-listen serves it to Prometheus without one.
func TestMetricsEndpoints(t *testing.T) {
	maddr := freeAddr(t)
	h := startServerWith(t, t.TempDir(), map[string]string{"args": "--metrics-listen " + maddr})
	get := func(url, token string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := get(h.vars["STILE_URL"]+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	token, err := os.ReadFile(filepath.Join(h.dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(h.vars["STILE_URL"]+"/metrics", strings.TrimSpace(string(token))); code != http.StatusOK || !strings.Contains(body, "stile_build_info{") {
		t.Errorf("/metrics with the admin token: %d\n%.300s", code, body)
	}
	if code, body := get("http://"+maddr+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "stile_state_up 1") {
		t.Errorf("--metrics-listen: %d\n%.300s", code, body)
	}
}
