package inspect

import (
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/target"
)

func TestTransportWarnings(t *testing.T) {
	for _, tt := range []struct {
		host, mode string
		tls        bool
		want       string
	}{
		{"127.0.0.1", "disable", false, ""},
		{"localhost", "prefer", false, ""},
		{"db.internal", "prefer", false, "not encrypted"},
		{"db.internal", "require", true, "does not verify"},
		{"db.internal", "verify-full", true, ""},
	} {
		got := strings.Join(transportWarnings(target.Target{Host: tt.host, SSLMode: tt.mode}, tt.tls), " ")
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s %s tls=%v: %q, want %q", tt.host, tt.mode, tt.tls, got, tt.want)
		}
	}
}
