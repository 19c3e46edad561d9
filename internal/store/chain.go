package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/stile-dev/stile/internal/api"
)

// The audit chain makes the session record tamper-evident: each session,
// when it finishes, is given the next sequence number of its store and a
// hash over its canonical record and the hash of the session before it.
// Editing, deleting or reordering a finished session breaks every hash from
// there on (docs/audit-chain.md).

// ChainTime is how the canonical record writes times: UTC, microseconds
// (what every store keeps), the zero time as "".
const ChainTime = "2006-01-02T15:04:05.000000Z"

// canonical is the record a chain hash covers, in this field order. It
// leaves out applied_by, the one field set after a session finishes (a
// plan's, when an apply consumes it); the apply session's plan_sid, which
// is covered, says the same.
type canonical struct {
	Seq        int64  `json:"seq"`
	SID        string `json:"sid"`
	Kind       string `json:"kind"`
	Resource   string `json:"resource"`
	Role       string `json:"role"`
	Label      string `json:"label"`
	Actor      string `json:"actor"`
	Agent      string `json:"agent"`
	CreatedAt  string `json:"created_at"`
	FinishedAt string `json:"finished_at"`
	Status     string `json:"status"`
	ExitCode   int    `json:"exit_code"`
	Message    string `json:"message"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	Document   string `json:"document"`
	Checksum   string `json:"checksum"`
	PlanSID    string `json:"plan_sid"`
	Replica    string `json:"replica"`
}

func chainTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Microsecond).Format(ChainTime)
}

// Canonical is the record of s that its chain hash covers, as the chain's
// sequence number seq: one line of JSON with the fields in a fixed order,
// no HTML escaping, times as ChainTime.
func Canonical(seq int64, s Session) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(canonical{
		Seq: seq, SID: s.SID, Kind: s.Kind, Resource: s.Resource, Role: s.Role, Label: s.Label, Actor: s.Actor, Agent: s.Agent,
		CreatedAt: chainTime(s.CreatedAt), FinishedAt: chainTime(s.FinishedAt), Status: s.Status, ExitCode: s.ExitCode,
		Message: s.Message, Input: s.Input, Output: s.Output, Document: s.Document, Checksum: s.Checksum, PlanSID: s.PlanSID,
		Replica: s.Replica,
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// ChainHash is the hash of s as session seq of the chain, after the session
// whose hash is prev ("" for the first): hex SHA-256 of prev, a newline, and
// Canonical(seq, s).
func ChainHash(prev string, seq int64, s Session) string {
	h := sha256.New()
	h.Write([]byte(prev + "\n"))
	h.Write(Canonical(seq, s))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainReport is api.ChainReport (the wire type), kept here for the server side.
type ChainReport = api.ChainReport
