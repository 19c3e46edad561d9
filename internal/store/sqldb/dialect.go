package sqldb

import (
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the databases the store runs on. Queries
// are written once, with ? placeholders and {braced} words that the dialect
// renders (see render).
type Dialect struct {
	// Prefix is put before every table name: the PostgreSQL store may share
	// a database, the SQLite file is its own.
	Prefix string
	// Dollar renders placeholders as $1..$n instead of ?.
	Dollar bool
	// Collate follows ORDER BY columns ({C}) so that text sorts bytewise
	// whatever the database's collation; empty where that is the default.
	Collate string
	// Lock follows a SELECT whose rows the transaction will update
	// ({lock}), and SkipLocked one that claims queue rows ({skiplocked});
	// empty where the store runs on one connection and needs no row locks.
	Lock, SkipLocked string
	// Time encodes a time for a timestamp column (the zero time as the
	// column's "unset" value); Unset tests for that value ({unset}).
	Time  func(time.Time) any
	Unset string
	// Unique and ForeignKey recognise constraint violations by their code.
	Unique, ForeignKey func(error) bool
	// Notify, when set, is run with a channel and a payload in the
	// transaction that queues or finishes a job, to wake other replicas.
	Notify string
	// Types are the column types the migrations name by role:
	// {timestamp}, {timestamp_or_unset} (with its unset value), {bool_false},
	// {json} and {bytes}.
	Types map[string]string
	// MigrateLock and MigrateUnlock, when set, are run around the
	// migrations on one connection, so that servers starting together
	// migrate once.
	MigrateLock, MigrateUnlock string
}

// render rewrites q for the dialect: ? becomes $n where Dollar is set,
// {C}, {lock}, {skiplocked} and {unset} become the dialect's clauses, and
// any other {name} becomes the table name with the prefix.
func (d *Dialect) render(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '?' && d.Dollar:
			n++
			b.WriteString("$" + strconv.Itoa(n))
		case c == '{':
			end := strings.IndexByte(q[i:], '}')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(d.word(q[i+1 : i+end]))
			i += end
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (d *Dialect) word(w string) string {
	switch w {
	case "C":
		return d.Collate
	case "lock":
		return d.Lock
	case "skiplocked":
		return d.SkipLocked
	case "unset":
		return d.Unset
	}
	if t, ok := d.Types[w]; ok {
		return t
	}
	return d.Prefix + w
}

// TextTime is the fixed-width text form of a time: the fractions have a
// fixed width so that text order is time order (RFC3339Nano trims
// trailing zeros and would sort "…5.2Z" after "…5.22Z").
const TextTime = "2006-01-02T15:04:05.000000000Z"

// TimeText encodes t as TextTime in UTC, the zero time as "".
func TimeText(t time.Time) any {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TextTime)
}

// TimeNull encodes t in UTC, the zero time as NULL.
func TimeNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// at scans a timestamp column (a time, a text time, "" or NULL) into *p,
// in UTC.
type at struct{ p *time.Time }

func (a at) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*a.p = v.UTC()
	case string:
		*a.p = parseTime(v)
	case []byte:
		*a.p = parseTime(string(v))
	default:
		*a.p = time.Time{}
	}
	return nil
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t.UTC()
}
