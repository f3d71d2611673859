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

// PutConnectionPipeline stores what SendOps keeps about a connection's
// event pipeline, replacing what it kept.
func PutConnectionPipeline(ctx context.Context, tx *Tx, p *domain.PipelineRecord) error {
	_, err := tx.Exec(ctx, `INSERT INTO connection_pipelines (org_id, connection_id, config_set, secret_sealed, secret_written, set_up_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (org_id, connection_id) DO UPDATE SET config_set = excluded.config_set, secret_sealed = excluded.secret_sealed,
			secret_written = excluded.secret_written, set_up_at = excluded.set_up_at`,
		p.OrgID, p.ConnectionID, p.ConfigSet, p.SecretSealed, p.SecretWritten, p.SetUpAt)
	return err
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
