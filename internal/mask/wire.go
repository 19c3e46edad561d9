package mask

import "encoding/binary"

// errorResponse is an ErrorResponse body: ERROR, SQLSTATE 42501.
func errorResponse(msg string) []byte { return response("ERROR", "42501", msg) }

// noticeResponse is a NoticeResponse body: a WARNING from stile.
func noticeResponse(msg string) []byte { return response("WARNING", "01000", msg) }

func response(severity, code, msg string) []byte {
	var b []byte
	for _, f := range []struct {
		code byte
		v    string
	}{{'S', severity}, {'V', severity}, {'C', code}, {'M', "stile: " + msg}} {
		b = append(b, f.code)
		b = append(b, f.v...)
		b = append(b, 0)
	}
	return append(b, 0)
}

// reader reads protocol fields; past the end it yields zeros.
type reader struct {
	b []byte
	i int
}

func (r *reader) take(n int) []byte {
	if n < 0 || r.i+n > len(r.b) {
		r.i = len(r.b)
		return make([]byte, max(n, 0))
	}
	v := r.b[r.i : r.i+n]
	r.i += n
	return v
}

func (r *reader) byte() byte         { return r.take(1)[0] }
func (r *reader) int16() int16       { return int16(binary.BigEndian.Uint16(r.take(2))) }
func (r *reader) int32() int32       { return int32(binary.BigEndian.Uint32(r.take(4))) }
func (r *reader) uint32() uint32     { return binary.BigEndian.Uint32(r.take(4)) }
func (r *reader) skip(n int)         { r.take(n) }
func (r *reader) bytes(n int) []byte { return r.take(n) }

func (r *reader) cstring() string {
	for j := r.i; j < len(r.b); j++ {
		if r.b[j] == 0 {
			s := string(r.b[r.i:j])
			r.i = j + 1
			return s
		}
	}
	r.i = len(r.b)
	return ""
}
