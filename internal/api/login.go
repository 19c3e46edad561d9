package api

import "time"

// LoginToken is a token a sign-in minted for the CLI.
type LoginToken struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	User      string    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// DeviceStart is a device login's start: what the CLI shows and polls with.
type DeviceStart struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
}

// CLITokenRequest is the body of POST /api/v1/auth/cli-token: the code
// stile login's loopback port received and its PKCE verifier.
type CLITokenRequest struct {
	Code     string `json:"code"`
	Verifier string `json:"verifier"`
}

// DeviceTokenRequest is the body of POST /api/v1/auth/device/token, the
// CLI's poll for a device login's token.
type DeviceTokenRequest struct {
	DeviceCode string `json:"device_code"`
}
