-- The ingest secret a connection's event pipeline gives its EventBridge
-- connection (kept sealed in connection_pipelines) is marked, so that
-- rotating the connection's user-visible ingest credentials leaves it
-- working: EventBridge does not retry a 401, and would lose every event
-- once it expired. It is replaced only on purpose, by a set-up run that
-- gives AWS the new secret before it expires the old one.
ALTER TABLE ingest_secrets ADD COLUMN pipeline BOOLEAN NOT NULL DEFAULT FALSE;
