package spec

import (
	"strings"
	"testing"
)

func TestRoleName(t *testing.T) {
	tests := []struct {
		prefix, resource, label, want string
	}{
		{"hoopdev", "analytics", "ro", "hoopdev_analytics_ro_6075a443"},
		{"hoopdev", "my-postgres", "ro", "hoopdev_my_postgres_ro_4da1f169"},
		{"stile", "--", "ro", "stile_x_ro_"},
		{"stile", "A..B", "R.O", "stile_a_b_r_o_"},
	}
	for _, tt := range tests {
		got, err := RoleName(tt.prefix, tt.resource, tt.label)
		if err != nil {
			t.Fatalf("RoleName(%q, %q): %v", tt.resource, tt.label, err)
		}
		if strings.HasSuffix(tt.want, "_") {
			if !strings.HasPrefix(got, tt.want) || len(got) != len(tt.want)+8 {
				t.Errorf("RoleName(%q, %q) = %s, want %s<hash8>", tt.resource, tt.label, got, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("RoleName(%q, %q) = %s, want %s", tt.resource, tt.label, got, tt.want)
		}
	}
}

func TestRoleNameLength(t *testing.T) {
	long := strings.Repeat("resource", 20)
	got, err := RoleName("stile", long, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) > MaxIdentLen {
		t.Errorf("len(%s) = %d > %d", got, len(got), MaxIdentLen)
	}
	if _, err := RoleName("stile", "db", strings.Repeat("l", 50)); err == nil {
		t.Error("a 50-byte label fits no room for the resource; want an error")
	}
	for _, label := range []string{"", "...", "  "} {
		if _, err := RoleName("stile", "db", label); err == nil {
			t.Errorf("label %q: want an error", label)
		}
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{"ro": "ro", "RO": "ro", "r.o": "r_o", "__a--b__": "a_b", "Ünï": "n"} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
