package proxy

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// recorder parses the frontend message stream for Query ('Q'), Parse ('P')
// and fastpath FunctionCall ('F') messages, and counts what runs (each
// Query, Execute ('E') and FunctionCall). It never blocks or alters the
// stream, and reads it where it lies: only the start of a statement that a
// read cuts in two is copied, and none once the session has its
// maxStatements statements. So a huge message is never held in memory, and
// a long session costs no allocation per message.
type recorder struct {
	hdr  [5]byte // the current message's type and length
	nhdr int     // bytes of hdr received so far
	body []byte  // the start of a statement cut across reads
	left int     // body bytes of the current message still to come
	// stopped is set on a stream that is not the protocol: nothing after
	// it can be trusted to start on a message boundary.
	stopped    bool
	statements []string
	executed   int64
}

// keepBytes is how much of a Query or Parse body is kept: a Parse starts
// with its statement name (at most 63 bytes).
const keepBytes = maxStatementLen + 128

func (r *recorder) feed(data []byte) {
	for len(data) > 0 && !r.stopped {
		if r.nhdr < 5 {
			if r.nhdr == 0 && len(data) >= 5 {
				r.hdr, r.nhdr, data = [5]byte(data[:5]), 5, data[5:]
			} else {
				n := copy(r.hdr[r.nhdr:], data)
				r.nhdr, data = r.nhdr+n, data[n:]
				if r.nhdr < 5 {
					return
				}
			}
			size := int(binary.BigEndian.Uint32(r.hdr[1:5]))
			if size < 4 || size > 1<<30 {
				r.stopped, r.body = true, nil
				return
			}
			r.left, r.body = size-4, r.body[:0]
		}
		n := min(r.left, len(data))
		part := data[:n]
		r.left, data = r.left-n, data[n:]
		if !r.keeps() {
			if r.left == 0 {
				r.message(nil)
			}
			continue
		}
		if r.left == 0 && len(r.body) == 0 {
			// The whole body came in this read: read it in place.
			r.message(part[:min(n, keepBytes)])
			continue
		}
		if len(r.body) < keepBytes {
			r.body = append(r.body, part[:min(n, keepBytes-len(r.body))]...)
		}
		if r.left == 0 {
			r.message(r.body)
		}
	}
}

// keeps says whether the current message's body is read: a statement's,
// while the session records statements.
func (r *recorder) keeps() bool {
	t := r.hdr[0]
	return (t == 'Q' || t == 'P' || t == 'F') && len(r.statements) < maxStatements
}

// message records the message just completed, whose body starts with
// start (when keeps), and gets ready for the next.
func (r *recorder) message(start []byte) {
	switch r.hdr[0] {
	case 'Q':
		r.executed++
		r.add(start)
	case 'E':
		r.executed++
	case 'P':
		if i := bytes.IndexByte(start, 0); i >= 0 {
			r.add(start[i+1:])
		}
	case 'F':
		// A fastpath function call (psql's \lo_export, libpq's PQfn):
		// recorded by the function's OID, which is all it names.
		r.executed++
		if len(start) >= 4 && len(r.statements) < maxStatements {
			r.statements = append(r.statements, fmt.Sprintf("fastpath function call (function oid %d)", binary.BigEndian.Uint32(start)))
		}
	}
	r.nhdr = 0
}

// add records the statement in sql, up to its NUL, cut to maxStatementLen.
func (r *recorder) add(sql []byte) {
	if len(r.statements) >= maxStatements {
		return
	}
	if i := bytes.IndexByte(sql, 0); i >= 0 {
		sql = sql[:i]
	}
	if len(sql) > maxStatementLen {
		r.statements = append(r.statements, string(sql[:maxStatementLen])+"…")
		return
	}
	r.statements = append(r.statements, string(sql))
}
