package secret

import (
	"crypto/sha256"
	"encoding/hex"
)

// TokenHash is how bearer secrets are stored and looked up: the hex SHA-256
// of the token. Agent tokens, personal tokens, web session cookies and device
// codes are kept only as this hash. It cannot fail.
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
