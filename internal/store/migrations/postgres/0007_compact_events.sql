-- Compact events: fewer bytes per stored SES event.
--
-- * A message gets a bigint identity; events and the recipient index refer
--   to it instead of repeating the 55-character SES message id, and events
--   no longer repeat the organisation and the connection, which the message
--   carries. The natural key (org_id, message_id) stays the primary key.
-- * events are keyed by row_key alone: the id column only orders a
--   message's rows (the row with the raw JSON before the other recipients'
--   rows of its event) and needs no index.
-- * Fixed-width columns first (no alignment padding between them), smaller
--   integers where the values are small.
--
-- Existing rows are copied into new tables, which are then renamed.

CREATE TABLE new_ses_messages (
    id             BIGINT GENERATED ALWAYS AS IDENTITY,
    sent_at        TIMESTAMPTZ,
    first_event_at TIMESTAMPTZ NOT NULL,
    last_event_at  TIMESTAMPTZ NOT NULL,
    org_id         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    sender         TEXT NOT NULL DEFAULT '',
    sending_domain TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    config_set     TEXT NOT NULL DEFAULT '',
    template       TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT ''
);
INSERT INTO new_ses_messages (sent_at, first_event_at, last_event_at, org_id, message_id, connection_id, sender, sending_domain,
                              subject, config_set, template, tags)
SELECT sent_at, first_event_at, last_event_at, org_id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags
FROM ses_messages ORDER BY first_event_at, org_id, message_id;

CREATE TABLE new_message_recipients (
    message_ref   BIGINT NOT NULL, -- ses_messages.id
    status_at     TIMESTAMPTZ NOT NULL,
    last_event_at TIMESTAMPTZ NOT NULL,
    status_rank   SMALLINT NOT NULL,
    org_id        TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    status        TEXT NOT NULL
);
INSERT INTO new_message_recipients (message_ref, status_at, last_event_at, status_rank, org_id, recipient, domain, status)
SELECT m.id, r.status_at, r.last_event_at, r.status_rank, r.org_id, r.recipient, r.domain, r.status
FROM message_recipients r JOIN new_ses_messages m ON m.org_id = r.org_id AND m.message_id = r.message_id
ORDER BY r.org_id, m.id, r.recipient;

-- Events carry no org_id: every query reaches them through their message,
-- selected by org_id (see store.Message).
CREATE TABLE new_events (
    message_ref    BIGINT NOT NULL, -- ses_messages.id
    at             TIMESTAMPTZ NOT NULL,
    id             BIGINT GENERATED ALWAYS AS IDENTITY,
    row_key        UUID NOT NULL, -- 16 bytes
    type           TEXT NOT NULL,
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
INSERT INTO new_events (message_ref, at, row_key, type, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta,
                        complaint_type, link, user_agent, ip, raw)
SELECT m.id, e.at, encode(e.row_key, 'hex')::uuid, e.type, e.recipient, e.bounce_type, e.bounce_subtype, e.diagnostic, e.reporting_mta,
       e.complaint_type, e.link, e.user_agent, e.ip, e.raw
FROM events e JOIN new_ses_messages m ON m.org_id = e.org_id AND m.message_id = e.message_id
ORDER BY e.id;

CREATE TABLE new_recipient_stats (
    last_event_at  TIMESTAMPTZ NOT NULL,
    sent           INTEGER NOT NULL DEFAULT 0,
    delivered      INTEGER NOT NULL DEFAULT 0,
    bounced        INTEGER NOT NULL DEFAULT 0,
    complained     INTEGER NOT NULL DEFAULT 0,
    opened         INTEGER NOT NULL DEFAULT 0,
    clicked        INTEGER NOT NULL DEFAULT 0,
    org_id         TEXT NOT NULL,
    recipient_hash BYTEA NOT NULL
);
INSERT INTO new_recipient_stats (last_event_at, sent, delivered, bounced, complained, opened, clicked, org_id, recipient_hash)
SELECT last_event_at, sent, delivered, bounced, complained, opened, clicked, org_id, recipient_hash
FROM recipient_stats;

DROP TABLE events;
DROP TABLE message_recipients;
DROP TABLE ses_messages;
DROP TABLE recipient_stats;
ALTER TABLE new_ses_messages RENAME TO ses_messages;
ALTER TABLE new_message_recipients RENAME TO message_recipients;
ALTER TABLE new_events RENAME TO events;
ALTER TABLE new_recipient_stats RENAME TO recipient_stats;
ALTER SEQUENCE new_ses_messages_id_seq RENAME TO ses_messages_id_seq;
ALTER SEQUENCE new_events_id_seq RENAME TO events_id_seq;

ALTER TABLE ses_messages ADD PRIMARY KEY (org_id, message_id), ADD UNIQUE (id);
-- Messages by the time they were sent, per organisation.
CREATE INDEX ses_messages_sent ON ses_messages (org_id, sent_at);
ALTER TABLE message_recipients ADD PRIMARY KEY (org_id, message_ref, recipient);
-- Recipient search: exact address and prefix, newest message first.
CREATE INDEX message_recipients_recipient ON message_recipients (org_id, recipient, message_ref);
ALTER TABLE events ADD PRIMARY KEY (row_key);
-- A message's events in time order.
CREATE INDEX events_message ON events (message_ref, at);
ALTER TABLE recipient_stats ADD PRIMARY KEY (org_id, recipient_hash);
