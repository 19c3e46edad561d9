package plan

// Step is one statement of a plan and why it is there. Steps stay data to
// the end: the document carries them (Document.Blocks), Render makes the
// script's text from them, the SQL runs as it is, Reason is a comment for
// the reviewer, and Destructive marks what takes something away (REVOKE,
// DROP, REASSIGN), which the web app and the CLI call out from the step.
type Step struct {
	SQL         string `json:"sql"`
	Reason      string `json:"reason,omitempty"`
	Destructive bool   `json:"destructive,omitempty"`
}

// ReasonNewPassword is the reason of the step that sets a role's new
// password, when it is its only reason (a rotation's plan has no other).
const ReasonNewPassword = "a new password"

// give is a step that adds what the declaration wants.
func give(sql, reason string) Step { return Step{SQL: sql, Reason: reason} }

// take is a step that takes something away.
func take(sql, reason string) Step { return Step{SQL: sql, Reason: reason, Destructive: true} }

// SQL returns the statements of steps, in order.
func SQL(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.SQL
	}
	return out
}
