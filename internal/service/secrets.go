package service

import (
	"fmt"

	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/store"
)

// OpenSecrets opens, with box, every lasting secret of a store: the
// resources' admin credentials, the resource roles' passwords (current and
// pending) and maskKey, the sealed masking key (its meta "mask_key"; ""
// when none was made). It is what a restore checks before it replaces a
// store: that the data key it will run with opens them all. It returns how
// many it opened, or an error naming the first it could not (never its
// content).
func OpenSecrets(resources []store.Resource, roles []store.Role, maskKey string, box *secret.Box) (int, error) {
	n := 0
	open := func(sealed, ad, what string) error {
		if sealed == "" {
			return nil
		}
		if _, err := box.Open(sealed, ad); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		n++
		return nil
	}
	for _, r := range resources {
		if err := open(r.AdminSecret, adminAD(r.Name), "the admin credentials of "+r.Name); err != nil {
			return n, err
		}
	}
	for _, r := range roles {
		ad := passwordAD(r.Resource, r.Label)
		if err := open(r.PasswordCurrent, ad, "the password of "+r.RoleName); err != nil {
			return n, err
		}
		if err := open(r.PasswordPending, ad, "the pending password of "+r.RoleName); err != nil {
			return n, err
		}
	}
	if err := open(maskKey, maskKeyAD, "the masking key"); err != nil {
		return n, err
	}
	return n, nil
}
