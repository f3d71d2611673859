package store

import (
	"context"
	"time"

	"sendops/internal/domain"
)

const connCols = `org_id, id, name, aws_account_id, region, created_at, role_arn, access_key_id, secret_sealed, endpoint`

func scanConn(row interface{ Scan(...any) error }) (*domain.Connection, error) {
	var c domain.Connection
	err := row.Scan(&c.OrgID, &c.ID, &c.Name, &c.AWSAccountID, &c.Region, utcTime{&c.CreatedAt}, &c.RoleARN, &c.AccessKeyID, &c.SecretSealed, &c.Endpoint)
	return &c, err
}

// CreateConnection stores a connection with the hashes of its SNS token and
// of its first EventBridge secret.
func CreateConnection(ctx context.Context, tx *Tx, c *domain.Connection, snsTokenHash, secretHash string) error {
	if c.ID == "" {
		c.ID = domain.NewID()
	}
	c.CreatedAt = tx.Now()
	if _, err := tx.Exec(ctx, `INSERT INTO connections (`+connCols+`, sns_token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.OrgID, c.ID, c.Name, c.AWSAccountID, c.Region, c.CreatedAt, c.RoleARN, c.AccessKeyID, c.SecretSealed, c.Endpoint, snsTokenHash); err != nil {
		return err
	}
	return AddIngestSecret(ctx, tx, c.OrgID, c.ID, secretHash)
}

// AddIngestSecret adds a current secret to a connection.
func AddIngestSecret(ctx context.Context, tx *Tx, orgID, connID, hash string) error {
	_, err := tx.Exec(ctx, `INSERT INTO ingest_secrets (hash, org_id, connection_id, created_at) VALUES (?, ?, ?, ?)`, hash, orgID, connID, tx.Now())
	return err
}

// ExpireIngestSecrets makes the connection's current secrets expire after
// grace (rotation), and deletes those already expired. Its event
// pipeline's secret is left current (see ExpirePipelineSecrets).
func ExpireIngestSecrets(ctx context.Context, tx *Tx, orgID, connID string, grace time.Duration) error {
	if _, err := tx.Exec(ctx, `DELETE FROM ingest_secrets WHERE org_id = ? AND connection_id = ? AND expires_at IS NOT NULL AND expires_at <= ?`, orgID, connID, tx.Now()); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE ingest_secrets SET expires_at = ? WHERE org_id = ? AND connection_id = ? AND expires_at IS NULL AND NOT pipeline`, tx.Now().Add(grace), orgID, connID)
	return err
}

// Connections lists an organisation's connections by name.
func Connections(ctx context.Context, tx *Tx, orgID string) ([]domain.Connection, error) {
	rows, err := tx.Query(ctx, `SELECT `+connCols+` FROM connections WHERE org_id = ? ORDER BY name, id`, orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.Connection
	for rows.Next() {
		c, err := scanConn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// Connection returns one connection of an organisation, or ENotFound.
func Connection(ctx context.Context, tx *Tx, orgID, id string) (*domain.Connection, error) {
	c, err := scanConn(tx.QueryRow(ctx, `SELECT `+connCols+` FROM connections WHERE org_id = ? AND id = ?`, orgID, id))
	return c, notFound(err, "Connection")
}

// ConnectionBySecret returns the connection a live EventBridge secret (by
// hash) belongs to, or ENotFound. Not scoped by organisation: the secret
// names it.
func ConnectionBySecret(ctx context.Context, tx *Tx, hash string) (*domain.Connection, error) {
	c, err := scanConn(tx.QueryRow(ctx, `SELECT c.org_id, c.id, c.name, c.aws_account_id, c.region, c.created_at, c.role_arn, c.access_key_id, c.secret_sealed, c.endpoint
		FROM ingest_secrets s JOIN connections c ON c.org_id = s.org_id AND c.id = s.connection_id
		WHERE s.hash = ? AND (s.expires_at IS NULL OR s.expires_at > ?)`, hash, tx.Now()))
	return c, notFound(err, "Connection")
}

// ConnectionBySNSToken returns the connection whose SNS URL token hashes to
// hash (the current token, or the previous one within its grace), or
// ENotFound.
func ConnectionBySNSToken(ctx context.Context, tx *Tx, hash string) (*domain.Connection, error) {
	c, err := scanConn(tx.QueryRow(ctx, `SELECT `+connCols+` FROM connections
		WHERE sns_token_hash = ? OR (prev_sns_token_hash = ? AND prev_sns_token_expires_at > ?)`, hash, hash, tx.Now()))
	return c, notFound(err, "Connection")
}

// SetSNSToken replaces the hash of a connection's SNS URL token; the
// previous token keeps working for grace.
func SetSNSToken(ctx context.Context, tx *Tx, orgID, id, hash string, grace time.Duration) error {
	_, err := tx.Exec(ctx, `UPDATE connections SET prev_sns_token_hash = sns_token_hash, prev_sns_token_expires_at = ?, sns_token_hash = ?
		WHERE org_id = ? AND id = ?`, tx.Now().Add(grace), hash, orgID, id)
	return err
}

// OrgKey returns the organisation's sealed HMAC key, or "" when it has none.
func OrgKey(ctx context.Context, tx *Tx, orgID string) (string, error) {
	var k string
	err := tx.QueryRow(ctx, `SELECT hmac_key FROM org_keys WHERE org_id = ?`, orgID).Scan(&k)
	if domain.IsNotFound(notFound(err, "")) {
		return "", nil
	}
	return k, err
}

// PutOrgKey stores the organisation's sealed HMAC key unless it has one;
// it returns the key that is stored.
func PutOrgKey(ctx context.Context, tx *Tx, orgID, sealed string) (string, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO org_keys (org_id, hmac_key) VALUES (?, ?) ON CONFLICT (org_id) DO NOTHING`, orgID, sealed); err != nil {
		return "", err
	}
	return OrgKey(ctx, tx, orgID)
}

// OrgExternalID returns the organisation's ExternalId for AWS roles, making
// it (from fresh) on first use.
func OrgExternalID(ctx context.Context, tx *Tx, orgID, fresh string) (string, error) {
	if _, err := tx.Exec(ctx, `UPDATE orgs SET external_id = ? WHERE id = ? AND external_id = ''`, fresh, orgID); err != nil {
		return "", err
	}
	var id string
	err := tx.QueryRow(ctx, `SELECT external_id FROM orgs WHERE id = ?`, orgID).Scan(&id)
	return id, notFound(err, "Organisation")
}

// DeleteConnection removes a connection with its ingest secrets and
// pipeline record (the events it brought stay), or returns ENotFound.
func DeleteConnection(ctx context.Context, tx *Tx, orgID, id string) error {
	res, err := tx.Exec(ctx, `DELETE FROM connections WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return domain.Errorf(domain.ENotFound, "Connection not found.")
	}
	return nil
}

// SetConnectionEndpoint points a connection at another AWS endpoint (the
// sandbox's emulator listens on a new port at each start).
func SetConnectionEndpoint(ctx context.Context, tx *Tx, orgID, id, endpoint string) error {
	_, err := tx.Exec(ctx, `UPDATE connections SET endpoint = ? WHERE org_id = ? AND id = ?`, endpoint, orgID, id)
	return err
}
