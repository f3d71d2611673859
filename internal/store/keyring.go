package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"sendops/internal/secret"
)

// SealedColumn is a column whose values are sealed by the keyring
// (secret.Keyring.Seal), one value per row, "" when the row has none.
type SealedColumn struct {
	Table  string
	Key    []string // the columns that name a row, in the order Context takes them
	Column string
	// Context is the seal context of a row's value, from its key: exactly
	// what the code that seals and opens the value passes.
	Context func(key []string) string
	// Noun and Plural name the values in reports ("TOTP secret").
	Noun, Plural string
}

// SealedColumns is every sealed column: `sendops keys rotate` re-seals
// each of them, and a server checks at start that it can open them. A
// feature that seals a new column adds it here, with the context its code
// uses; a test proves the existing entries against the code that seals.
var SealedColumns = []SealedColumn{
	{Table: "connections", Key: []string{"org_id", "id"}, Column: "secret_sealed", Noun: "connection secret", Plural: "connection secrets",
		Context: func(k []string) string { return "connection:" + k[0] + ":" + k[1] }}, // service.connectionSecretContext
	{Table: "users", Key: []string{"id"}, Column: "totp_secret", Noun: "TOTP secret", Plural: "TOTP secrets",
		Context: func(k []string) string { return "totp:" + k[0] }}, // service.totpContext
	{Table: "org_keys", Key: []string{"org_id"}, Column: "hmac_key", Noun: "organisation key", Plural: "organisation keys",
		Context: func(k []string) string { return "orgkey:" + k[0] }}, // ingest.Writer.orgKey
	{Table: "connection_pipelines", Key: []string{"org_id", "connection_id"}, Column: "secret_sealed", Noun: "pipeline secret", Plural: "pipeline secrets",
		Context: func(k []string) string { return "pipeline:" + k[0] + ":" + k[1] }}, // service.pipelineSecretContext
	{Table: "template_sources", Key: []string{"org_id", "id"}, Column: "auth_secret", Noun: "Git credential", Plural: "Git credentials",
		Context: func(k []string) string { return "template-source-auth:" + k[0] + ":" + k[1] }}, // service.sourceAuthContext
	{Table: "template_sources", Key: []string{"org_id", "id"}, Column: "webhook_secret", Noun: "Git webhook secret", Plural: "Git webhook secrets",
		Context: func(k []string) string { return "template-source-hook:" + k[0] + ":" + k[1] }}, // service.sourceHookContext
}

// SealKeys returns the recorded key versions: each version and the
// fingerprint of the secret key it is derived from.
func SealKeys(ctx context.Context, tx *Tx) (map[int]string, error) {
	rows, err := tx.Query(ctx, `SELECT version, fingerprint FROM seal_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	versions := map[int]string{}
	for rows.Next() {
		var v int
		var fp string
		if err := rows.Scan(&v, &fp); err != nil {
			return nil, err
		}
		versions[v] = fp
	}
	return versions, rows.Err()
}

// addSealKey records a key version unless another process just did; the
// caller reads the versions again.
func addSealKey(ctx context.Context, tx *Tx, version int, fingerprint string) error {
	_, err := tx.Exec(ctx, `INSERT INTO seal_keys (version, fingerprint, created_at) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING`,
		version, fingerprint, tx.Now())
	return err
}

// countSealed counts the values of a column sealed under version (under
// any version but it, with not).
func countSealed(ctx context.Context, tx *Tx, c SealedColumn, version int, not bool) (int, error) {
	op := "LIKE"
	if not {
		op = "NOT LIKE"
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM `+c.Table+` WHERE `+c.Column+` <> '' AND `+c.Column+` `+op+` ?`,
		versionPrefix(version)+"%").Scan(&n)
	return n, err
}

func versionPrefix(version int) string { return "v" + strconv.Itoa(version) + ":" }

// Keyring returns the keyring of a server whose secret key is current (and
// was previous, nil if unchanged), recording key versions as needed:
//   - the first start records version 1 as derived from the key that opens
//     the values already sealed (previous or current; previous when there
//     are none);
//   - when the newest version is not derived from current (the secret key
//     changed), a new version of current is recorded and seals from now on;
//     `sendops keys rotate` then re-seals the older values under it.
//
// It fails with a *secret.MissingKeyError when values are sealed under a
// version derived from neither key.
func (db *DB) Keyring(ctx context.Context, current, previous []byte) (*secret.Keyring, error) {
	var versions map[int]string
	err := db.Update(ctx, func(tx *Tx) error {
		var err error
		if versions, err = SealKeys(ctx, tx); err != nil {
			return err
		}
		if len(versions) == 0 {
			fp, err := firstKey(ctx, tx, current, previous)
			if err != nil {
				return err
			}
			if err := addSealKey(ctx, tx, 1, fp); err != nil {
				return err
			}
		} else if err := checkKeys(ctx, tx, versions, current, previous); err != nil {
			return err
		}
		if versions, err = SealKeys(ctx, tx); err != nil {
			return err
		}
		newest := slices.Max(slices.Collect(maps.Keys(versions)))
		if fp := secret.Fingerprint(current); versions[newest] != fp {
			if err := addSealKey(ctx, tx, newest+1, fp); err != nil {
				return err
			}
			versions, err = SealKeys(ctx, tx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return secret.NewVersionedKeyring(current, previous, versions)
}

// firstKey returns the fingerprint of the secret key that sealed the values
// already stored before key versions were recorded (all under version 1):
// the previous key if it opens one value of each column, else the current
// one if it does. With nothing sealed yet, that is previous when given.
func firstKey(ctx context.Context, tx *Tx, current, previous []byte) (string, error) {
	type sample struct{ sealed, context string }
	var samples []sample
	for _, c := range SealedColumns {
		keys, sealed, err := firstSealed(ctx, tx, c)
		if err != nil {
			return "", err
		}
		if sealed != "" {
			samples = append(samples, sample{sealed, c.Context(keys)})
		}
	}
	for _, key := range [][]byte{previous, current} {
		if key == nil {
			continue
		}
		kr, err := secret.NewKeyring(key)
		if err != nil {
			return "", err
		}
		opens := true
		for _, s := range samples {
			if _, err := kr.Open(s.sealed, s.context); err != nil {
				opens = false
				break
			}
		}
		if opens {
			return secret.Fingerprint(key), nil
		}
	}
	// Sealed with another key, whose fingerprint was never recorded.
	return "", &secret.MissingKeyError{Version: 1}
}

// firstSealed returns some value of a column and its row's key ("" if none).
func firstSealed(ctx context.Context, tx *Tx, c SealedColumn) ([]string, string, error) {
	rows, err := tx.Query(ctx, `SELECT `+strings.Join(c.Key, ", ")+`, `+c.Column+` FROM `+c.Table+` WHERE `+c.Column+` <> '' LIMIT 1`)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, "", rows.Err()
	}
	return scanSealed(rows, c)
}

// checkKeys fails when a value is sealed under a version derived from a
// secret key the server does not have.
func checkKeys(ctx context.Context, tx *Tx, versions map[int]string, current, previous []byte) error {
	have := map[string]bool{secret.Fingerprint(current): true}
	if previous != nil {
		have[secret.Fingerprint(previous)] = true
	}
	for _, v := range slices.Sorted(maps.Keys(versions)) {
		if have[versions[v]] {
			continue
		}
		for _, c := range SealedColumns {
			n, err := countSealed(ctx, tx, c, v, false)
			if err != nil {
				return err
			}
			if n > 0 {
				return &secret.MissingKeyError{Version: v, Fingerprint: versions[v]}
			}
		}
	}
	return nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSealed(rows scanner, c SealedColumn) ([]string, string, error) {
	keys := make([]string, len(c.Key))
	var sealed string
	dest := make([]any, 0, len(keys)+1)
	for i := range keys {
		dest = append(dest, &keys[i])
	}
	if err := rows.Scan(append(dest, &sealed)...); err != nil {
		return nil, "", err
	}
	return keys, sealed, nil
}

// Rotation is what a key rotation did.
type Rotation struct {
	// Version is the key version every sealed value is now under.
	Version int
	// Added is whether the rotation added it; false when it finished an
	// earlier rotation (one interrupted, or after which servers started
	// before it sealed values under an older version) or a change of the
	// secret key recorded when a server started with the new one.
	Added bool
	// Resealed counts the values re-sealed, one count per SealedColumns
	// entry.
	Resealed []int
}

// rotateBatch is how many values one transaction re-seals.
const rotateBatch = 200

// RotateKeys re-seals every sealed value under the newest key version of
// kr's secret key, first adding a new version when every value is already
// under the newest. Each batch of values is re-sealed in its own
// transaction, only where the stored value is still the one read, so it is
// safe while servers run (they open every version; see secret.Keyring) and
// an interrupted rotation is finished by the next one. It advances kr to
// the new version. A value sealed under a secret key kr lacks fails it
// with a *secret.MissingKeyError, before or after some batches: what was
// re-sealed still opens.
func (db *DB) RotateKeys(ctx context.Context, kr *secret.Keyring) (Rotation, error) {
	var r Rotation
	err := db.Update(ctx, func(tx *Tx) error {
		versions, err := SealKeys(ctx, tx)
		if err != nil {
			return err
		}
		if len(versions) == 0 {
			return errors.New("no key version is recorded: open the database with a server first")
		}
		newest := slices.Max(slices.Collect(maps.Keys(versions)))
		if versions[newest] != kr.Fingerprint() {
			return &secret.MissingKeyError{Version: newest, Fingerprint: versions[newest]}
		}
		r.Version = newest
		for _, c := range SealedColumns {
			n, err := countSealed(ctx, tx, c, newest, true)
			if err != nil {
				return err
			}
			if n > 0 {
				return nil // values remain under older versions: finish
			}
		}
		r.Version, r.Added = newest+1, true
		if err := addSealKey(ctx, tx, r.Version, kr.Fingerprint()); err != nil {
			return err
		}
		// Two rotations at once: the other one's version wins.
		if versions, err = SealKeys(ctx, tx); err != nil {
			return err
		}
		if versions[r.Version] != kr.Fingerprint() {
			return fmt.Errorf("another process added key version %d meanwhile: run again", r.Version)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if r.Version > kr.Version() {
		if err := kr.Advance(r.Version); err != nil {
			return r, err
		}
	}
	r.Resealed = make([]int, len(SealedColumns))
	for i, c := range SealedColumns {
		for {
			n, done, err := db.resealBatch(ctx, kr, c, r.Version)
			r.Resealed[i] += n
			if err != nil {
				return r, err
			}
			if done {
				break
			}
		}
	}
	return r, nil
}

// resealBatch re-seals up to rotateBatch values of a column not sealed
// under version, in one transaction; done when there were none.
func (db *DB) resealBatch(ctx context.Context, kr *secret.Keyring, c SealedColumn, version int) (n int, done bool, err error) {
	err = db.Update(ctx, func(tx *Tx) error {
		n, done = 0, false
		rows, err := tx.Query(ctx, `SELECT `+strings.Join(c.Key, ", ")+`, `+c.Column+` FROM `+c.Table+
			` WHERE `+c.Column+` <> '' AND `+c.Column+` NOT LIKE ? ORDER BY `+strings.Join(c.Key, ", ")+` LIMIT `+strconv.Itoa(rotateBatch),
			versionPrefix(version)+"%")
		if err != nil {
			return err
		}
		type row struct {
			keys   []string
			sealed string
		}
		var batch []row
		for rows.Next() {
			keys, sealed, err := scanSealed(rows, c)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, row{keys, sealed})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		done = len(batch) == 0
		where := strings.Join(c.Key, " = ? AND ") + " = ?"
		for _, b := range batch {
			plain, err := kr.Open(b.sealed, c.Context(b.keys))
			if err != nil {
				return fmt.Errorf("the %s of %s %s does not open: %w", c.Noun, c.Table, strings.Join(b.keys, "/"), err)
			}
			args := []any{kr.Seal(plain, c.Context(b.keys))}
			for _, k := range b.keys {
				args = append(args, k)
			}
			// Only the value read: a value changed meanwhile is left to
			// the next batch (if it is not under version already).
			res, err := tx.Exec(ctx, `UPDATE `+c.Table+` SET `+c.Column+` = ? WHERE `+where+` AND `+c.Column+` = ?`, append(args, b.sealed)...)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err != nil {
				return err
			} else if k == 1 {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return n, done, nil
}
