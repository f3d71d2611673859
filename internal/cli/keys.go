package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"sendops/internal/config"
	"sendops/internal/secret"
	"sendops/internal/store"
)

// openKeyring returns the keyring that seals secrets in db: its key
// versions come from the database, derived from SENDOPS_SECRET_KEY and, for
// values sealed before the secret key changed, SENDOPS_SECRET_KEY_PREVIOUS.
func openKeyring(ctx context.Context, db *store.DB, c *config.Config) (*secret.Keyring, error) {
	kr, err := db.Keyring(ctx, c.SecretKey, c.SecretKeyPrevious)
	if err != nil {
		return nil, keyError(err, c)
	}
	return kr, nil
}

// keyError names the setting to fix when values are sealed under a key the
// server was not given.
func keyError(err error, c *config.Config) error {
	var missing *secret.MissingKeyError
	if !errors.As(err, &missing) {
		return err
	}
	which := fmt.Sprintf("key version %d, which sealed values in the database, was derived from another secret key (fingerprint %s)", missing.Version, missing.Fingerprint)
	if missing.Fingerprint == "" {
		which = fmt.Sprintf("the values sealed in the database (key version %d) do not open with it", missing.Version)
	}
	if c.SecretKeyPrevious != nil {
		return &config.Error{Setting: "SENDOPS_SECRET_KEY_PREVIOUS", Problem: "neither it nor SENDOPS_SECRET_KEY is the secret key the database needs: " + which}
	}
	return &config.Error{Setting: "SENDOPS_SECRET_KEY", Problem: which + "; if you changed the key, set SENDOPS_SECRET_KEY_PREVIOUS (or _FILE) to the old one until sendops keys rotate has re-sealed them"}
}

// runKeysRotate re-seals every sealed value in the database under a new
// key version (sendops keys rotate).
func runKeysRotate(ctx context.Context, fs *flag.FlagSet, args []string, stdout io.Writer, env config.Env) error {
	flags := config.Register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(flags, env, true)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.DB, true)
	if err != nil {
		return err
	}
	defer db.Close()
	kr, err := openKeyring(ctx, db, cfg)
	if err != nil {
		return err
	}
	from := kr.Version()
	r, err := db.RotateKeys(ctx, kr)
	if err != nil {
		return keyError(err, cfg)
	}
	var counts []string
	for i, c := range store.SealedColumns {
		noun := c.Plural
		if r.Resealed[i] == 1 {
			noun = c.Noun
		}
		counts = append(counts, fmt.Sprintf("%d %s", r.Resealed[i], noun))
	}
	fmt.Fprintf(stdout, "re-sealed %s under key version %d\n", joinList(counts), r.Version)
	switch {
	case r.Added:
		fmt.Fprintf(stdout, "Servers that started before this keep sealing new values under key version %d, which still opens; restart them to seal under version %d.\n", from, r.Version)
	case cfg.SecretKeyPrevious == nil:
		fmt.Fprintf(stdout, "Key version %d was already the newest: this finished re-sealing under it. Run again for a new key version.\n", r.Version)
	}
	if cfg.SecretKeyPrevious != nil {
		fmt.Fprintln(stdout, "Nothing is sealed under the previous secret key now: remove SENDOPS_SECRET_KEY_PREVIOUS once every server runs with the new SENDOPS_SECRET_KEY.")
	}
	return nil
}

// joinList joins items as "a, b and c".
func joinList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
