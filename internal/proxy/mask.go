package proxy

import (
	"bufio"
	"encoding/binary"
	"io"

	"github.com/stile-dev/stile/internal/mask"
)

// frontendTap splits the client's byte stream into messages for a masking
// filter, which must see each message whole before it reaches the server.
// CopyData bodies (a COPY FROM's rows) are counted, never kept.
type frontendTap struct {
	f    *mask.Filter
	hdr  []byte
	body []byte
	left int
	skip bool
	// stopped is set on a stream that is not the protocol.
	stopped bool
}

func (t *frontendTap) feed(data []byte) {
	for len(data) > 0 && !t.stopped {
		if len(t.hdr) < 5 {
			n := min(5-len(t.hdr), len(data))
			t.hdr, data = append(t.hdr, data[:n]...), data[n:]
			if len(t.hdr) < 5 {
				return
			}
			size := int(binary.BigEndian.Uint32(t.hdr[1:5]))
			if size < 4 || size > 1<<30 {
				t.stopped = true
				return
			}
			t.left, t.body, t.skip = size-4, t.body[:0], t.hdr[0] == 'd'
		}
		n := min(t.left, len(data))
		if !t.skip {
			t.body = append(t.body, data[:n]...)
		}
		t.left, data = t.left-n, data[n:]
		if t.left == 0 {
			t.f.Frontend(t.hdr[0], t.body)
			t.hdr = t.hdr[:0]
		}
	}
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
		if typ, out := f.Backend(hdr[0], body); typ != 0 {
			var h [5]byte
			h[0] = typ
			binary.BigEndian.PutUint32(h[1:], uint32(len(out)+4))
			bw.Write(h[:])
			bw.Write(out)
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return read
			}
		}
	}
}
