package service

import "testing"

// TestSeconds: a window's length in words, without a zero tail.
func TestSeconds(t *testing.T) {
	for n, want := range map[int64]string{10: "10s", 60: "1m", 90: "1m30s", 600: "10m", 3600: "1h", 5400: "1h30m", 28800: "8h", 3610: "1h0m10s"} {
		if got := seconds(n); got != want {
			t.Errorf("seconds(%d) = %q, want %q", n, got, want)
		}
	}
}
