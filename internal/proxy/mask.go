package proxy

import (
	"bufio"
	"encoding/binary"
	"io"

	"github.com/stile-dev/stile/internal/mask"
)

// frontendTap splits the client's byte stream into messages for a filter,
// which sees each whole before it reaches the server and may replace or
// hold it back (guardrails). CopyData (a COPY FROM's rows) streams through
// unbuffered and unseen.
type frontendTap struct {
	f      *mask.Filter
	hdr    []byte
	body   []byte
	left   int
	stream bool
	// stopped is set on a stream that is not the protocol: the rest goes
	// through as it is (the server will refuse it).
	stopped bool
}

// feed takes bytes from the client and returns those to send the server.
func (t *frontendTap) feed(data []byte) []byte {
	var out []byte
	for len(data) > 0 && !t.stopped {
		if len(t.hdr) < 5 {
			n := min(5-len(t.hdr), len(data))
			t.hdr, data = append(t.hdr, data[:n]...), data[n:]
			if len(t.hdr) < 5 {
				break
			}
			size := int(binary.BigEndian.Uint32(t.hdr[1:5]))
			if size < 4 || size > 1<<30 {
				t.stopped = true
				out = append(out, t.hdr...)
				break
			}
			t.left, t.body, t.stream = size-4, t.body[:0], t.hdr[0] == 'd'
			if t.stream {
				out = append(out, t.hdr...)
			}
		}
		n := min(t.left, len(data))
		if t.stream {
			out = append(out, data[:n]...)
		} else {
			t.body = append(t.body, data[:n]...)
		}
		t.left, data = t.left-n, data[n:]
		if t.left == 0 {
			if !t.stream {
				for _, m := range t.f.Frontend(t.hdr[0], t.body) {
					out = append(out, m.Type)
					out = binary.BigEndian.AppendUint32(out, uint32(len(m.Body)+4))
					out = append(out, m.Body...)
				}
			}
			t.hdr = t.hdr[:0]
		}
	}
	if t.stopped {
		out = append(out, data...)
	}
	return out
}

// copyBackend copies the server's messages to w through f, whole messages
// at a time, flushing whenever no more input is waiting. It returns the
// bytes read from the server.
func copyBackend(w io.Writer, upstream io.Reader, f *mask.Filter) int64 {
	br := bufio.NewReaderSize(upstream, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var read int64
	hdr := make([]byte, 5)
	var body []byte
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			bw.Flush()
			return read
		}
		size := int(binary.BigEndian.Uint32(hdr[1:5]))
		if size < 4 || size > 1<<30 {
			bw.Flush()
			return read
		}
		body = append(body[:0], make([]byte, size-4)...)
		if _, err := io.ReadFull(br, body); err != nil {
			bw.Flush()
			return read
		}
		read += int64(size) + 1
		for _, m := range f.Backend(hdr[0], body) {
			var h [5]byte
			h[0] = m.Type
			binary.BigEndian.PutUint32(h[1:], uint32(len(m.Body)+4))
			bw.Write(h[:])
			bw.Write(m.Body)
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return read
			}
		}
	}
}
