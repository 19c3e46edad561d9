package daemon

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store/sqlite"
)

// TestCheckDataKey: a server's first start on a store records its data
// key's id once the store's sealed secrets open with it; a start with
// another key is refused, before and after the id is recorded, and a
// refusal records nothing. The store is the newest upgrade fixture, with
// real sealed secrets and no recorded id, as every store made before
// stores recorded it.
func TestCheckDataKey(t *testing.T) {
	ctx := context.Background()
	dir := "../store/sqlite/testdata/upgrade/022"
	key, err := secret.LoadKey(filepath.Join(dir, "secret.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "stile.db")
	if err := copyFile(filepath.Join(dir, "stile.db"), path); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other := make([]byte, secret.KeySize)
	rand.Read(other)
	recorded := func() string {
		t.Helper()
		v, err := st.Meta(ctx, metaDataKeyID)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	err = checkDataKey(ctx, st, other)
	if err == nil || !strings.Contains(err.Error(), "does not open the store's secrets") {
		t.Fatalf("another key on a store with no recorded id: %v", err)
	}
	if got := recorded(); got != "" {
		t.Fatalf("a refused key was recorded: %s", got)
	}
	if err := checkDataKey(ctx, st, key); err != nil {
		t.Fatalf("the store's own key: %v", err)
	}
	if got := recorded(); got != secret.KeyID(key) {
		t.Fatalf("recorded %q, want the key's id %s", got, secret.KeyID(key))
	}
	if err := checkDataKey(ctx, st, key); err != nil {
		t.Fatalf("the store's own key again: %v", err)
	}
	err = checkDataKey(ctx, st, other)
	if want := "sealed with data key " + secret.KeyID(key) + " and this data key is " + secret.KeyID(other); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("another key once the id is recorded: %v\nwant %q", err, want)
	}

	// A new store has nothing sealed: its first key is its key.
	fresh, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := checkDataKey(ctx, fresh, other); err != nil {
		t.Fatal(err)
	}
	if err := checkDataKey(ctx, fresh, key); err == nil {
		t.Fatal("a second key was taken on a new store")
	}
}
