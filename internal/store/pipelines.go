package store

import (
	"context"
	"time"

	"sendops/internal/domain"
)

// ConnectionPipeline returns what SendOps keeps about a connection's event
// pipeline, or ENotFound when it was never set up.
func ConnectionPipeline(ctx context.Context, tx *Tx, orgID, connID string) (*domain.PipelineRecord, error) {
	p := domain.PipelineRecord{OrgID: orgID, ConnectionID: connID}
	err := tx.QueryRow(ctx, `SELECT config_set, secret_sealed, secret_written, set_up_at FROM connection_pipelines
		WHERE org_id = ? AND connection_id = ?`, orgID, connID).Scan(&p.ConfigSet, &p.SecretSealed, nullTime{&p.SecretWritten}, nullTime{&p.SetUpAt})
	if err != nil {
		return nil, notFound(err, "Pipeline")
	}
	return &p, nil
}

// InsertConnectionPipeline stores what SendOps keeps about a connection's
// event pipeline unless it already keeps something: of two first set-ups
// at once, one inserts and the other finds it (inserted false) and uses
// the record the first stored.
func InsertConnectionPipeline(ctx context.Context, tx *Tx, p *domain.PipelineRecord) (inserted bool, err error) {
	res, err := tx.Exec(ctx, `INSERT INTO connection_pipelines (org_id, connection_id, config_set, secret_sealed, secret_written, set_up_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, connection_id) DO NOTHING`,
		p.OrgID, p.ConnectionID, p.ConfigSet, p.SecretSealed, p.SecretWritten, p.SetUpAt)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UpdateConnectionPipeline replaces what SendOps keeps about a connection's
// event pipeline, if its sealed secret is still sealed (the one the caller
// read): a run that another replaced the secret under (updated false)
// must not put back the old one, nor record that AWS holds its secret.
func UpdateConnectionPipeline(ctx context.Context, tx *Tx, p *domain.PipelineRecord, sealed string) (updated bool, err error) {
	res, err := tx.Exec(ctx, `UPDATE connection_pipelines SET config_set = ?, secret_sealed = ?, secret_written = ?, set_up_at = ?
		WHERE org_id = ? AND connection_id = ? AND secret_sealed = ?`,
		p.ConfigSet, p.SecretSealed, p.SecretWritten, p.SetUpAt, p.OrgID, p.ConnectionID, sealed)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// AddPipelineSecret adds a current ingest secret (by hash) to a connection
// as its event pipeline's: rotating the connection's ingest credentials
// leaves it alone.
func AddPipelineSecret(ctx context.Context, tx *Tx, orgID, connID, hash string) error {
	_, err := tx.Exec(ctx, `INSERT INTO ingest_secrets (hash, org_id, connection_id, created_at, pipeline) VALUES (?, ?, ?, ?, TRUE)`,
		hash, orgID, connID, tx.Now())
	return err
}

// MarkPipelineSecret marks a connection's ingest secret (by hash) as its
// event pipeline's, for secrets added before ingest_secrets said so.
func MarkPipelineSecret(ctx context.Context, tx *Tx, orgID, connID, hash string) error {
	_, err := tx.Exec(ctx, `UPDATE ingest_secrets SET pipeline = TRUE WHERE org_id = ? AND connection_id = ? AND hash = ?`, orgID, connID, hash)
	return err
}

// ExpirePipelineSecrets makes the connection's current event pipeline
// secrets but keep (by hash) expire after grace, and returns how many it
// did: once AWS has the new secret, the old one keeps working only for
// events already on their way.
func ExpirePipelineSecrets(ctx context.Context, tx *Tx, orgID, connID, keep string, grace time.Duration) (int64, error) {
	res, err := tx.Exec(ctx, `UPDATE ingest_secrets SET expires_at = ?
		WHERE org_id = ? AND connection_id = ? AND pipeline AND expires_at IS NULL AND hash <> ?`, tx.Now().Add(grace), orgID, connID, keep)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// IngestSecretState tells whether a connection has the ingest secret of
// hash, and when it expires (nil: it is current).
func IngestSecretState(ctx context.Context, tx *Tx, orgID, connID, hash string) (found bool, expires *time.Time, err error) {
	err = tx.QueryRow(ctx, `SELECT expires_at FROM ingest_secrets WHERE org_id = ? AND connection_id = ? AND hash = ?`,
		orgID, connID, hash).Scan(nullTime{&expires})
	if domain.IsNotFound(notFound(err, "")) {
		return false, nil, nil
	}
	return err == nil, expires, err
}
