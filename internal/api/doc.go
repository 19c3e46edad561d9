// Package api holds the request and response types of stile's HTTP API:
// what the server encodes and the CLI decodes. It owns no server insides
// (no store, no service), so a client imports it alone; the server-side
// packages use these types (some through aliases kept for the transition).
// internal/server/openapi.yaml names the same fields, checked by a test.
package api
