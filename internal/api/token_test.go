package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stile-dev/stile/internal/api"
	"github.com/stile-dev/stile/internal/store"
)

// TestTokenIsTheStoreTokenOnTheWire keeps api.Token, which leaves out the
// hash the store keeps, byte-identical on the wire to the store.Token the
// server encodes: the same JSON decoded and encoded again is unchanged.
func TestTokenIsTheStoreTokenOnTheWire(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, st := range []store.Token{
		{ID: "t1", User: "ann", Hash: "secret", CreatedAt: now},
		{ID: "t2", User: "bob", Hash: "secret", CreatedAt: now, RevokedAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour)},
	} {
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var at api.Token
		if err := json.Unmarshal(want, &at); err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(at)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("api.Token encodes %s, store.Token %s", got, want)
		}
	}
}
