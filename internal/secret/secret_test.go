package secret

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

func TestBoxRoundTrip(t *testing.T) {
	key := make([]byte, KeySize)
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed := box.Seal("hunter2", "admin:a")
	if got, err := box.Open(sealed, "admin:a"); err != nil || got != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, "admin:b"); err == nil {
		t.Fatal("a ciphertext opened under another associated data")
	}
	other, _ := NewBox(append(make([]byte, KeySize-1), 1))
	if _, err := other.Open(sealed, "admin:a"); err == nil {
		t.Fatal("a ciphertext opened under another key")
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d", "secret.key")
	k1, created, err := LoadOrCreateKey(path, "")
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKey(path, "")
	if err != nil || created || string(k1) != string(k2) {
		t.Fatalf("reload: created=%v err=%v same=%v", created, err, string(k1) == string(k2))
	}
	env := base64.StdEncoding.EncodeToString(make([]byte, KeySize))
	if k, _, err := LoadOrCreateKey(path, env); err != nil || string(k) != string(make([]byte, KeySize)) {
		t.Fatalf("env key: %v", err)
	}
	if _, _, err := LoadOrCreateKey(path, "short"); err == nil {
		t.Fatal("a malformed STILE_SECRET_KEY was accepted")
	}
}

func TestNewPassword(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		p := NewPassword()
		if !re.MatchString(p) {
			t.Fatalf("password %q has the wrong shape", p)
		}
		if seen[p] {
			t.Fatal("repeated password")
		}
		seen[p] = true
	}
}

// TestScramVerifierVector checks the key derivation against RFC 7677's
// example exchange (password "pencil", the salt below, 4096 iterations); the
// integration tests log in with generated passwords on real servers.
func TestScramVerifierVector(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	got := scramVerifier("pencil", salt, 4096)
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if got != want {
		t.Fatalf("verifier\n got %s\nwant %s", got, want)
	}
	re := regexp.MustCompile(`^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$`)
	if v := ScramVerifier(NewPassword()); !re.MatchString(v) {
		t.Fatalf("verifier %s has the wrong shape", v)
	}
}
