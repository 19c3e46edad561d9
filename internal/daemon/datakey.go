package daemon

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stile-dev/stile/internal/errs"
	"github.com/stile-dev/stile/internal/secret"
	"github.com/stile-dev/stile/internal/service"
	"github.com/stile-dev/stile/internal/store"
	"github.com/stile-dev/stile/internal/store/postgres"
)

// metaDataKeyID is the meta key under which a store records the id of the
// data key its secrets are sealed with (secret.KeyID, never the key).
const metaDataKeyID = "data_key_id"

// checkDataKey holds a store to the data key its secrets are sealed with,
// before a server serves anything from it. The first server to start on a
// store records its key's id, once what the store holds sealed opens with
// that key; any server started later with another key is refused, instead
// of running and failing on every secret it reads.
func checkDataKey(ctx context.Context, st store.Store, key []byte) error {
	id := secret.KeyID(key)
	have, err := st.Meta(ctx, metaDataKeyID)
	if err != nil {
		return err
	}
	if have == "" {
		if _, err := verifySecrets(ctx, st, key); err != nil {
			return errs.Invalidf("the data key %s does not open the store's secrets (%v): start with the key the store's secrets were sealed with (--key-file, STILE_SECRET_KEY)", id, err)
		}
		if have, err = st.SetMetaOnce(ctx, metaDataKeyID, id); err != nil {
			return err
		}
	}
	if have != id {
		return errs.Invalidf("the store's secrets are sealed with data key %s and this data key is %s: start with the store's key (--key-file, STILE_SECRET_KEY)", have, id)
	}
	return nil
}

// verified is what verifyStore found.
type verified struct {
	resources, roles, secrets int
	sessions                  int64
}

// verifyStore checks an opened (migrated) store as a restore does: its
// audit chain verifies, as stile sessions verify does, and every lasting
// secret opens with key.
func verifyStore(ctx context.Context, st store.Store, key []byte) (verified, error) {
	rep, err := st.VerifyChain(ctx)
	if err != nil {
		return verified{}, err
	}
	if !rep.OK {
		return verified{}, errs.New(errs.Failed, "its audit chain does not verify: %s", rep.Problem)
	}
	v, err := verifySecrets(ctx, st, key)
	if err != nil {
		return v, errs.New(errs.Failed, "its secrets do not open with this data key (%v)", err)
	}
	v.sessions = rep.Sessions
	return v, nil
}

// verifySecrets opens every lasting secret of st with key: admin
// credentials, resource roles' passwords, the masking key.
func verifySecrets(ctx context.Context, st store.Store, key []byte) (verified, error) {
	box, err := secret.NewBox(key)
	if err != nil {
		return verified{}, err
	}
	resources, err := st.Resources(ctx)
	if err != nil {
		return verified{}, err
	}
	roles, err := st.Roles(ctx, "")
	if err != nil {
		return verified{}, err
	}
	mask, err := st.Meta(ctx, "mask_key")
	if err != nil {
		return verified{}, err
	}
	n, err := service.OpenSecrets(resources, roles, mask, box)
	return verified{resources: len(resources), roles: len(roles), secrets: n}, err
}

// checkRestoredStore checks a PostgreSQL store that pg_restore filled, as
// restore checks a backup: its recorded data key id must be key's (read
// before anything changes it), then it is migrated to this version, its
// audit chain must verify and every lasting secret must open with key.
func checkRestoredStore(cmd *cobra.Command, e *env, url string, key []byte) error {
	ctx := cmd.Context()
	if !strings.HasPrefix(url, "postgres") {
		return errs.Invalidf("--store %q: a PostgreSQL store's URL (postgres://…); an embedded store is restored from a backup FILE", redactURL(url))
	}
	meta, err := postgres.ReadMeta(ctx, url)
	if err != nil {
		return err
	}
	id := secret.KeyID(key)
	if have, ok := meta[metaDataKeyID]; ok && have != id {
		return errs.Invalidf("the store's secrets are sealed with data key %s and this data key is %s: check it with the key it was sealed with; nothing changed", have, id)
	}
	st, err := postgres.Open(ctx, url) // migrates a store dumped by an older version
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := verifyStore(ctx, st, key)
	if err != nil {
		return fmt.Errorf("the store at %s: %w", redactURL(url), err)
	}
	if _, err := st.SetMetaOnce(ctx, metaDataKeyID, id); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checked the store at %s: %d resources, %d roles; audit chain verified (%d sessions); %d secrets open with data key %s\n",
		redactURL(url), v.resources, v.roles, v.sessions, v.secrets, id)
	return nil
}
