package cli

import (
	"testing"
	"time"
)

// TestParseWhen: --since and --until take a time ago in minutes to weeks,
// a date or an RFC 3339 time, and refuse anything else.
func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"90m":                  now.Add(-90 * time.Minute),
		"36h":                  now.Add(-36 * time.Hour),
		"7d":                   now.AddDate(0, 0, -7),
		"2w":                   now.AddDate(0, 0, -14),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-29T08:00:00Z": time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"3x", "-2d", "d", "yesterday", "-5m"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) succeeded", bad)
		}
	}
}

// TestParseUntil: --until takes a date (through that day), an RFC 3339
// time or a length of time from now.
func TestParseUntil(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2027-03-31":           time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC),
		"2027-03-31T18:00:00Z": time.Date(2027, 3, 31, 18, 0, 0, 0, time.UTC),
		"30d":                  now.AddDate(0, 0, 30),
		"90m":                  now.Add(90 * time.Minute),
	} {
		if got, err := parseUntil(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseUntil(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"tomorrow", "-1d", "2027-13-01"} {
		if _, err := parseUntil(bad, now); err == nil {
			t.Errorf("parseUntil(%q) succeeded", bad)
		}
	}
}
