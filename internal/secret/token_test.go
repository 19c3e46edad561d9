package secret

import "testing"

// TestTokenHash pins the stored form of tokens: a change would lock out every
// agent, personal token and web session already stored.
func TestTokenHash(t *testing.T) {
	const want = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // sha256("hello")
	if got := TokenHash("hello"); got != want {
		t.Fatalf("TokenHash(hello) = %s, want %s", got, want)
	}
}
