package store

import (
	"testing"
	"time"
)

func TestSeries(t *testing.T) {
	day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var s Series
	s.Add(day.Add(5*time.Hour), Usage{Connections: 1, Seconds: 3})
	s.Add(day.Add(-2*24*time.Hour), Usage{Connections: 2})
	s.Add(day.Add(-UsageDays*24*time.Hour), Usage{Connections: 100}) // too old
	if s.Last != day || s.Days[UsageDays-1].Connections != 1 || s.Days[UsageDays-3].Connections != 2 {
		t.Fatalf("series = last %v, tail %+v", s.Last, s.Window(3))
	}
	// Moving on drops what falls out and never moves back.
	later := s.At(day.Add(UsageDays - 2*24*time.Hour))
	if got := s.At(day.Add(88*24*time.Hour)).Total(day.Add(88*24*time.Hour), UsageDays).Connections; got != 1 {
		t.Errorf("88 days on, the series holds %d connections, want 1 (the day two before has fallen out)", got)
	}
	if later.At(day).Last != later.Last {
		t.Error("At moved the series back")
	}
	if got := s.Total(day.Add(24*time.Hour), 2).Connections; got != 1 {
		t.Errorf("the two days ending tomorrow hold %d connections, want 1", got)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Series
	if err := back.UnmarshalBinary(b); err != nil || back != s {
		t.Fatalf("round trip: %v, equal %v", err, back == s)
	}
	if len(b) > 16+UsageDays*5+8 {
		t.Errorf("a nearly idle series takes %d bytes", len(b))
	}
	for _, bad := range [][]byte{{2}, {1}, b[:len(b)-1]} {
		if err := back.UnmarshalBinary(bad); err == nil {
			t.Errorf("UnmarshalBinary(%x) took it", bad)
		}
	}
	var empty Series
	if err := empty.UnmarshalBinary(nil); err != nil || !empty.Last.IsZero() {
		t.Errorf("empty: %v %+v", err, empty.Last)
	}
}
