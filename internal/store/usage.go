package store

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/stile-dev/stile/internal/api"
)

// UsageDays is how many days of daily usage the store keeps for each role,
// user and the fleet; older detail stays in the connect sessions.
const UsageDays = 90

// Usage kinds: whose usage a UsageRecord is.
const (
	UsageRole  = "role"
	UsageUser  = "user"
	UsageFleet = "fleet"
)

// Usage is api.Usage (the wire type), kept here for the server side.
type Usage = api.Usage

// ConnectionUsage is a finished connection: its connect session (which
// names the role and the user, its actor) and what it did.
type ConnectionUsage struct {
	Session Session
	Usage   Usage
}

// Series is daily usage over the last UsageDays days, counted on the UTC
// day each connection opened: a round-robin series, like rrdtool's, so
// reading a role's 90 days is one row, not 90.
type Series struct {
	// Last is the newest day (UTC midnight); Days[UsageDays-1] is its
	// usage, Days[0] that of UsageDays-1 days before.
	Last time.Time
	Days [UsageDays]Usage
}

// Day is the UTC day t falls on.
func Day(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}

// At returns the series moved forward so that its newest day is day (days
// that fall out are dropped, new ones are zero); it never moves back.
func (s Series) At(day time.Time) Series {
	day = Day(day)
	if s.Last.IsZero() {
		s.Last = day
		return s
	}
	shift := int(day.Sub(s.Last) / (24 * time.Hour))
	if shift <= 0 {
		return s
	}
	var out Series
	out.Last = day
	for i := shift; i < UsageDays; i++ {
		out.Days[i-shift] = s.Days[i]
	}
	return out
}

// Add counts u on the day of t; a day older than the series is dropped.
func (s *Series) Add(t time.Time, u Usage) {
	*s = s.At(t)
	i := UsageDays - 1 - int(s.Last.Sub(Day(t))/(24*time.Hour))
	if i >= 0 && i < UsageDays {
		s.Days[i].Add(u)
	}
}

// Total is the usage of the n days that end on today.
func (s Series) Total(today time.Time, n int) Usage {
	var u Usage
	for _, d := range s.At(today).Window(n) {
		u.Add(d)
	}
	return u
}

// Window is the last n days of the series, oldest first.
func (s Series) Window(n int) []Usage {
	n = min(max(n, 0), UsageDays)
	return s.Days[UsageDays-n:]
}

// MarshalBinary encodes the series: a version byte, the newest day as days
// since 1970, then each day's five counts as uvarints, oldest first. An
// idle day is five zero bytes.
func (s Series) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 16+UsageDays*5)
	b = append(b, 1)
	b = binary.AppendUvarint(b, uint64(s.Last.Unix()/86400))
	for _, d := range s.Days {
		for _, v := range []int64{d.Connections, d.Seconds, d.BytesIn, d.BytesOut, d.Statements} {
			b = binary.AppendUvarint(b, uint64(max(v, 0)))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded; empty is the empty
// series.
func (s *Series) UnmarshalBinary(b []byte) error {
	*s = Series{}
	if len(b) == 0 {
		return nil
	}
	if b[0] != 1 {
		return errors.New("usage series: unknown version")
	}
	b = b[1:]
	next := func() (int64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errors.New("usage series: truncated")
		}
		b = b[n:]
		return int64(v), nil
	}
	day, err := next()
	if err != nil {
		return err
	}
	s.Last = time.Unix(day*86400, 0).UTC()
	for i := range s.Days {
		d := &s.Days[i]
		for _, p := range []*int64{&d.Connections, &d.Seconds, &d.BytesIn, &d.BytesOut, &d.Statements} {
			if *p, err = next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// UsageRecord is the usage of a role, a user or the fleet (Kind).
type UsageRecord struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	LastUsed time.Time `json:"last_used,omitzero"`
	// Total is all time, since usage was first kept.
	Total  Usage  `json:"total"`
	Series Series `json:"-"`
}

// LastUse is api.LastUse (the wire type), kept here for the server side.
type LastUse = api.LastUse
