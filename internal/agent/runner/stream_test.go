package runner

import (
	"strings"
	"testing"
)

// TestStreamEndpoint: an agent streams to its own server unless the job
// names a replica's advertised URL, and never from wss:// down to ws://
// (its token goes along).
func TestStreamEndpoint(t *testing.T) {
	for _, c := range []struct{ conn, advertised, want, err string }{
		{"wss://lb/api/v1/agent/connect", "", "wss://lb/api/v1/agent/stream", ""},
		{"wss://lb/api/v1/agent/connect", "wss://b:8009/api/v1/agent/stream", "wss://b:8009/api/v1/agent/stream", ""},
		{"ws://127.0.0.1:1/api/v1/agent/connect", "ws://b:8009/api/v1/agent/stream", "ws://b:8009/api/v1/agent/stream", ""},
		{"wss://lb/api/v1/agent/connect", "ws://b:8009/api/v1/agent/stream", "", "plain ws://"},
		{"wss://lb/api/v1/agent/connect", "https://b/api/v1/agent/stream", "", "not a ws://"},
		{"wss://lb/api/v1/agent/connect", "wss:///nohost", "", "not a ws://"},
		{"wss://lb/api/v1/agent/connect", "wss://b/s?id=x", "", "not a ws://"},
	} {
		got, err := streamEndpoint(c.conn, c.advertised)
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("streamEndpoint(%q, %q) = %q, %v; want %q, %q", c.conn, c.advertised, got, err, c.want, c.err)
		}
	}
}
