// Package secret holds stile's cryptography: the data key that encrypts
// secrets at rest, generated passwords and SCRAM-SHA-256 verifiers.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the data key's length: AES-256.
const KeySize = 32

// Box encrypts and decrypts secrets with AES-256-GCM under one data key.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for a 32-byte key.
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("data key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; ad binds the ciphertext to its use (for example
// "admin:<resource>") so that a ciphertext cannot be moved to another row.
func (b *Box) Seal(plaintext, ad string) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(ad))
	return "v1:" + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts what Seal returned for the same ad.
func (b *Box) Open(sealed, ad string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return "", errors.New("open secret: unknown format")
	}
	data, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", errors.New("open secret: corrupt")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, data[:n], data[n:], []byte(ad))
	if err != nil {
		return "", errors.New("open secret: wrong key or tampered data")
	}
	return string(pt), nil
}

// LoadOrCreateKey returns the data key: from env (base64 of 32 bytes) when
// it is set, else from path, creating path with a fresh key (mode 0600) when
// it does not exist. created reports that a new key file was written.
func LoadOrCreateKey(path, env string) (key []byte, created bool, err error) {
	if env != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(env))
		if err != nil || len(key) != KeySize {
			return nil, false, errors.New("STILE_SECRET_KEY: want base64 of 32 bytes")
		}
		return key, false, nil
	}
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
		if err != nil || len(key) != KeySize {
			return nil, false, fmt.Errorf("data key %s: want base64 of 32 bytes", path)
		}
		return key, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("data key: %w", err)
	}
	key = make([]byte, KeySize)
	rand.Read(key)
	if err := WriteFileExclusive(path, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// LoadKey returns the data key from env (base64 of 32 bytes) when it is
// set, else from path, which must exist: unlike LoadOrCreateKey it never
// makes one.
func LoadKey(path, env string) ([]byte, error) {
	if env == "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("data key: %w", err)
		}
	}
	key, _, err := LoadOrCreateKey(path, env)
	return key, err
}

// KeyID names a data key without revealing it: the first 16 hex digits of
// SHA-256 over a fixed label and the key. A backup records it so that a
// restore can tell the key it needs.
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("stile data key id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

// WriteFileExclusive creates path with mode 0600 and fails if it exists.
func WriteFileExclusive(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
