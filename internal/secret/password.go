package secret

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// PasswordLen is the length of generated passwords: 32 characters of
// [A-Za-z0-9] (about 190 bits), needing no escaping in connection strings.
const PasswordLen = 32

// NewPassword returns a random password drawn uniformly from [A-Za-z0-9]
// with crypto/rand (rand.Int rejects out-of-range draws, so no modulo bias).
func NewPassword() string {
	var b strings.Builder
	max := big.NewInt(int64(len(alphabet)))
	for range PasswordLen {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		b.WriteByte(alphabet[n.Int64()])
	}
	return b.String()
}

// NewToken returns a random API token, 32 bytes hex-encoded.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TokenEqual compares tokens in constant time.
func TokenEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ScramIterations is PostgreSQL's default scram_iterations.
const ScramIterations = 4096

// ScramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, in the exact form it accepts in CREATE/ALTER ROLE … PASSWORD:
// SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey> (RFC 5802/7677). A
// verifier that does not match this shape is silently taken as a plaintext
// password by the server, so this is the only place that builds one.
func ScramVerifier(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	return scramVerifier(password, salt, ScramIterations)
}

func scramVerifier(password string, salt []byte, iter int) string {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		panic(err)
	}
	clientKey := hmacSum(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSum(salted, "Server Key")
	enc := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iter, enc(salt), enc(storedKey[:]), enc(serverKey))
}

func hmacSum(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
