package web_test

import (
	"crypto/sha256"
	"encoding/hex"
)

func hash8(resource, label string) string {
	sum := sha256.Sum256([]byte(resource + ":" + label))
	return hex.EncodeToString(sum[:])[:8]
}
