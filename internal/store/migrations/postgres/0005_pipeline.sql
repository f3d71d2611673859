-- The event pipeline SendOps sets up in a connection's AWS account: the
-- configuration set it uses, and the ingest secret its EventBridge
-- connection sends, sealed (context "pipeline:<org_id>:<connection_id>")
-- so that a resumed or repaired run can give it again; its hash is also in
-- ingest_secrets. secret_written is AWS's LastModifiedTime of the
-- EventBridge connection just after SendOps gave it the secret (NULL: not
-- given yet); set_up_at is the end of the last complete run.
CREATE TABLE connection_pipelines (
    org_id         TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    config_set     TEXT NOT NULL,
    secret_sealed  TEXT NOT NULL,
    secret_written TIMESTAMPTZ,
    set_up_at      TIMESTAMPTZ,
    PRIMARY KEY (org_id, connection_id),
    FOREIGN KEY (org_id, connection_id) REFERENCES connections (org_id, id) ON DELETE CASCADE
);
