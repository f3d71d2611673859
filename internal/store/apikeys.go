package store

import (
	"context"
	"strings"

	"sendops/internal/domain"
)

const apiKeyCols = `org_id, id, name, prefix, hash, scopes, created_by, created_at, last_used_at, revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*domain.APIKey, error) {
	var k domain.APIKey
	var scopes string
	err := row.Scan(&k.OrgID, &k.ID, &k.Name, &k.Prefix, &k.Hash, &scopes, &k.CreatedBy, utcTime{&k.CreatedAt}, nullTime{&k.LastUsedAt}, nullTime{&k.RevokedAt})
	for _, s := range strings.Split(scopes, ",") {
		if s != "" {
			k.Scopes = append(k.Scopes, domain.Scope(s))
		}
	}
	return &k, err
}

// CreateAPIKey stores a key (its hash, never the key).
func CreateAPIKey(ctx context.Context, tx *Tx, k *domain.APIKey) error {
	if k.ID == "" {
		k.ID = domain.NewID()
	}
	k.CreatedAt = tx.Now()
	scopes := make([]string, len(k.Scopes))
	for i, s := range k.Scopes {
		scopes[i] = string(s)
	}
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.OrgID, k.ID, k.Name, k.Prefix, k.Hash, strings.Join(scopes, ","), k.CreatedBy, k.CreatedAt, k.LastUsedAt, k.RevokedAt)
	return err
}

// APIKeyByHash returns the live (not revoked) key with the hash, or ENotFound.
// This is the one lookup not scoped by organisation: the key names it.
func APIKeyByHash(ctx context.Context, tx *Tx, hash string) (*domain.APIKey, error) {
	k, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
	return k, notFound(err, "API key")
}

// TouchAPIKey records that a key was used now.
func TouchAPIKey(ctx context.Context, tx *Tx, orgID, id string) error {
	_, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE org_id = ? AND id = ?`, tx.Now(), orgID, id)
	return err
}

// APIKeys lists an organisation's keys, newest first, revoked ones included.
func APIKeys(ctx context.Context, tx *Tx, orgID string, p domain.Page) ([]domain.APIKey, string, error) {
	limit, after, err := pageArgs(p)
	if err != nil {
		return nil, "", err
	}
	rows, err := tx.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE org_id = ? AND (? = '' OR id < ?) ORDER BY id DESC LIMIT ?`, orgID, after, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *k)
	}
	out, next := nextCursor(out, limit, func(k domain.APIKey) string { return k.ID })
	return out, next, rows.Err()
}

// APIKey returns one of an organisation's keys, or ENotFound.
func APIKey(ctx context.Context, tx *Tx, orgID, id string) (*domain.APIKey, error) {
	k, err := scanAPIKey(tx.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE org_id = ? AND id = ?`, orgID, id))
	return k, notFound(err, "API key")
}

// RevokeAPIKey revokes a live key, or returns ENotFound.
func RevokeAPIKey(ctx context.Context, tx *Tx, orgID, id string) error {
	res, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL`, tx.Now(), orgID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.ENotFound, "API key not found.")
	}
	return nil
}

// RevokeKeysBy revokes the live keys a user made in an organisation and
// returns how many.
func RevokeKeysBy(ctx context.Context, tx *Tx, orgID, userID string) (int64, error) {
	res, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND created_by = ? AND revoked_at IS NULL`, tx.Now(), orgID, userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
