-- A rotated SNS subscription URL keeps working for a grace period, like the
-- EventBridge secret: SNS treats a 401 as delivered, so cutting it at once
-- would lose events until the topic is subscribed again.
ALTER TABLE connections ADD COLUMN prev_sns_token_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN prev_sns_token_expires_at TIMESTAMP;
CREATE INDEX connections_prev_sns ON connections (prev_sns_token_hash);
