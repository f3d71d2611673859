-- Event ingest: connections and their ingest credentials, SES messages,
-- the recipient search index, events, hourly rollups and per-recipient
-- analytics on keyed hashes.

CREATE TABLE connections (
    org_id         TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    aws_account_id TEXT NOT NULL,
    region         TEXT NOT NULL,
    sns_token_hash TEXT NOT NULL UNIQUE,
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, id)
);

-- EventBridge API-destination secrets, by hash. The current one has no
-- expiry; a rotated one keeps working until expires_at.
CREATE TABLE ingest_secrets (
    hash          TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    FOREIGN KEY (org_id, connection_id) REFERENCES connections (org_id, id) ON DELETE CASCADE
);
CREATE INDEX ingest_secrets_connection ON ingest_secrets (org_id, connection_id);

-- The per-organisation key of the recipient hashes, sealed.
CREATE TABLE org_keys (
    org_id   TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    hmac_key TEXT NOT NULL
);

CREATE TABLE ses_messages (
    org_id         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    sender         TEXT NOT NULL DEFAULT '',
    sending_domain TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    config_set     TEXT NOT NULL DEFAULT '',
    template       TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '',
    sent_at        TIMESTAMPTZ,
    first_event_at TIMESTAMPTZ NOT NULL,
    last_event_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, message_id)
);
CREATE INDEX ses_messages_last ON ses_messages (org_id, last_event_at);

-- The recipient search index: plaintext, lower-cased, with the domain.
CREATE TABLE message_recipients (
    org_id        TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_rank   BIGINT NOT NULL,
    status_at     TIMESTAMPTZ NOT NULL,
    last_event_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, message_id, recipient)
);
CREATE INDEX message_recipients_recipient ON message_recipients (org_id, recipient, last_event_at);

-- One row per SES event and recipient. row_key is a 16-byte hash of the
-- organisation, the event's natural identity and the recipient: the same
-- event arriving twice is stored once.
CREATE TABLE events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_key        BYTEA NOT NULL UNIQUE,
    org_id         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    type           TEXT NOT NULL,
    at             TIMESTAMPTZ NOT NULL,
    recipient      TEXT NOT NULL,
    bounce_type    TEXT NOT NULL DEFAULT '',
    bounce_subtype TEXT NOT NULL DEFAULT '',
    diagnostic     TEXT NOT NULL DEFAULT '',
    reporting_mta  TEXT NOT NULL DEFAULT '',
    complaint_type TEXT NOT NULL DEFAULT '',
    link           TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT '',
    ip             TEXT NOT NULL DEFAULT '',
    raw            BYTEA
);
CREATE INDEX events_message ON events (org_id, message_id, at);

CREATE TABLE rollups_hourly (
    org_id           TEXT NOT NULL,
    hour             TIMESTAMPTZ NOT NULL,
    connection_id    TEXT NOT NULL,
    config_set       TEXT NOT NULL,
    sending_domain   TEXT NOT NULL,
    template         TEXT NOT NULL,
    recipient_domain TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    bounce_type      TEXT NOT NULL,
    count            BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, connection_id, config_set, sending_domain, template, recipient_domain, event_type, bounce_type)
);

-- Per-recipient analytics, on HMAC-SHA-256 of the address under the
-- organisation's key: no plaintext address here.
CREATE TABLE recipient_stats (
    org_id         TEXT NOT NULL,
    recipient_hash BYTEA NOT NULL,
    sent           BIGINT NOT NULL DEFAULT 0,
    delivered      BIGINT NOT NULL DEFAULT 0,
    bounced        BIGINT NOT NULL DEFAULT 0,
    complained     BIGINT NOT NULL DEFAULT 0,
    opened         BIGINT NOT NULL DEFAULT 0,
    clicked        BIGINT NOT NULL DEFAULT 0,
    last_event_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, recipient_hash)
);
