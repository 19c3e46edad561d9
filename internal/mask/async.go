package mask

import "slices"

// Messages from the server other than rows that can carry values: errors
// and notices, settings (ParameterStatus), notifications. The detectors
// run on them; a role with column rules also gets the values it cannot
// trace to a column (a notification's payload, a setting changed by a
// statement) redacted, since any column may be in them.

// fields masks an ErrorResponse's or NoticeResponse's text fields with the
// detectors: the message, detail, hint, context and internal query.
func (f *Filter) fields(body []byte) []byte {
	if len(f.m.detectors) == 0 {
		return body
	}
	var out []byte
	changed := false
	r := reader{b: body}
	for r.i < len(body) {
		code := r.byte()
		if code == 0 {
			break
		}
		v := r.cstring()
		if slices.Contains([]byte("MDHWq"), code) {
			if masked, fired := f.m.Value([]byte(v), nil); fired != nil {
				f.count(fired)
				v, changed = string(masked), true
			}
		}
		out = append(out, code)
		out = append(out, v...)
		out = append(out, 0)
	}
	if !changed {
		return body
	}
	return append(out, 0)
}

// fixedSettings are the reported settings whose values are one of a few
// words or numbers, not free text.
var fixedSettings = []string{
	"client_encoding", "DateStyle", "IntervalStyle", "integer_datetimes", "standard_conforming_strings", "is_superuser",
	"in_hot_standby", "default_transaction_read_only", "server_version", "server_encoding", "scram_iterations",
	"session_authorization",
}

// parameter follows a ParameterStatus (the guard reads statements by some
// of them) and masks its value.
func (f *Filter) parameter(body []byte) []byte {
	r := reader{b: body}
	name, value := r.cstring(), r.cstring()
	if f.params == nil {
		f.params = map[string]string{}
	}
	f.params[name] = value
	masked, fired := f.m.Value([]byte(value), nil)
	if fired == nil && f.m.HasColumnRules() && !slices.Contains(fixedSettings, name) {
		masked, fired = f.m.Value([]byte(value), &f.unresolved)
	}
	if fired == nil {
		return body
	}
	f.count(fired)
	out := append([]byte(name), 0)
	out = append(out, masked...)
	return append(out, 0)
}

// notification masks a NotificationResponse's channel and payload.
func (f *Filter) notification(body []byte) []byte {
	r := reader{b: body}
	pid := r.take(4)
	channel, payload := r.cstring(), r.cstring()
	c, cf := f.m.Value([]byte(channel), nil)
	p, pf := f.m.Value([]byte(payload), nil)
	if pf == nil && f.m.HasColumnRules() && payload != "" {
		p, pf = f.m.Value([]byte(payload), &f.unresolved)
	}
	if cf == nil && pf == nil {
		return body
	}
	f.count(cf)
	f.count(pf)
	out := append([]byte{}, pid...)
	out = append(out, c...)
	out = append(out, 0)
	out = append(out, p...)
	return append(out, 0)
}

func (f *Filter) count(ids []string) {
	for _, id := range ids {
		f.fired[id]++
	}
}
