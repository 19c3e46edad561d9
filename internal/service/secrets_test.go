package service

import (
	"strings"
	"testing"

	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/spec"
	"github.com/stile-dev/stile/internal/store"
)

// TestOpenSecrets: every lasting secret opens with its key and its own
// binding; one sealed with another key, or moved to another row, names
// what it is, never what it holds.
func TestOpenSecrets(t *testing.T) {
	key, other := make([]byte, secret.KeySize), make([]byte, secret.KeySize)
	other[0] = 1
	box, _ := secret.NewBox(key)
	otherBox, _ := secret.NewBox(other)
	resources := []store.Resource{{Resource: spec.Resource{Name: "prod"}, AdminSecret: box.Seal("admin-pw", adminAD("prod"))}}
	roles := []store.Role{{Resource: "prod", Label: "ro", RoleName: "stile_prod_ro", PasswordCurrent: box.Seal("pw1", passwordAD("prod", "ro")), PasswordPending: box.Seal("pw2", passwordAD("prod", "ro"))}}
	mask := box.Seal("mask", maskKeyAD)
	if n, err := OpenSecrets(resources, roles, mask, box); err != nil || n != 4 {
		t.Fatalf("OpenSecrets = %d, %v; want 4 opened", n, err)
	}
	if _, err := OpenSecrets(resources, roles, mask, otherBox); err == nil || !strings.Contains(err.Error(), "admin credentials of prod") {
		t.Errorf("another key: %v", err)
	}
	moved := []store.Role{{Resource: "prod", Label: "rw", RoleName: "stile_prod_rw", PasswordCurrent: roles[0].PasswordCurrent}}
	if _, err := OpenSecrets(resources, moved, "", box); err == nil || !strings.Contains(err.Error(), "password of stile_prod_rw") || strings.Contains(err.Error(), "pw1") {
		t.Errorf("a password moved to another role: %v", err)
	}
}
