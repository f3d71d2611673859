-- How SendOps reaches a connection's AWS account: by role (with the
-- organisation's ExternalId) or by access keys (the secret sealed), and an
-- optional endpoint for an emulator.
ALTER TABLE orgs ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN role_arn TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN access_key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN secret_sealed TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
