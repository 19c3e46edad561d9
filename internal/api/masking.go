package api

import (
	"fmt"
	"strings"
)

// MaskingCheck is what a masking check found: each canary through each
// path, in text and in binary format.
type MaskingCheck struct {
	Role   string         `json:"role"`
	SID    string         `json:"sid"`
	Probes []MaskingProbe `json:"probes"`
	// Leaks counts the probes that got a raw value; Errors those that
	// could not tell.
	Leaks  int `json:"leaks"`
	Errors int `json:"errors"`
}

// MaskingProbe is one canary through one path.
type MaskingProbe struct {
	Path    string `json:"path"`
	Canary  string `json:"canary"`
	Format  string `json:"format"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// Text is the check's table for people.
func (c MaskingCheck) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "masking check of %s: %d probe(s), %d raw, %d could not tell\n", c.Role, len(c.Probes), c.Leaks, c.Errors)
	for _, p := range c.Probes {
		fmt.Fprintf(&b, "  %-8s %-6s %-8s %s", p.Path, p.Format, p.Outcome, p.Canary)
		if p.Detail != "" {
			fmt.Fprintf(&b, " (%s)", p.Detail)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
