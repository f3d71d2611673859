-- Compact events: fewer bytes per stored SES event.
--
-- * A message gets a per-database integer id (its rowid); events and the
--   recipient index refer to it instead of repeating the 55-character SES
--   message id, and events no longer repeat the organisation and the
--   connection, which the message carries. The natural key (org_id,
--   message_id) stays unique.
-- * The times of events, messages, recipients and per-recipient analytics
--   are unix milliseconds (INTEGER, 6 bytes) instead of 27 characters of
--   text. The hourly rollups keep text hours: their table is small (about
--   1 byte per event) and dashboards read it.
--
-- Existing rows are copied into new tables and the old ones dropped. SQLite
-- keeps the freed pages for reuse: run VACUUM afterwards to shrink the file.

-- A stored text time ("2006-01-02T15:04:05.000000Z") becomes unix
-- milliseconds as strftime('%s', t) * 1000 plus the three digits after the
-- point.
CREATE TABLE new_ses_messages (
    id             INTEGER PRIMARY KEY,
    org_id         TEXT NOT NULL,
    message_id     TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    sender         TEXT NOT NULL DEFAULT '',
    sending_domain TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    config_set     TEXT NOT NULL DEFAULT '',
    template       TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '',
    sent_at        INTEGER,          -- unix ms
    first_event_at INTEGER NOT NULL, -- unix ms
    last_event_at  INTEGER NOT NULL, -- unix ms
    UNIQUE (org_id, message_id)
);
INSERT INTO new_ses_messages (org_id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags,
                              sent_at, first_event_at, last_event_at)
SELECT org_id, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags,
       CASE WHEN sent_at IS NULL THEN NULL
            ELSE strftime('%s', sent_at) * 1000 + CASE WHEN substr(sent_at, 20, 1) = '.' THEN CAST(substr(sent_at, 21, 3) AS INTEGER) ELSE 0 END END,
       strftime('%s', first_event_at) * 1000 + CASE WHEN substr(first_event_at, 20, 1) = '.' THEN CAST(substr(first_event_at, 21, 3) AS INTEGER) ELSE 0 END,
       strftime('%s', last_event_at) * 1000 + CASE WHEN substr(last_event_at, 20, 1) = '.' THEN CAST(substr(last_event_at, 21, 3) AS INTEGER) ELSE 0 END
FROM ses_messages ORDER BY first_event_at, org_id, message_id;

-- The recipient search index. Its key starts with the organisation like
-- every key; in a WITHOUT ROWID table that costs nothing, as the search
-- index (org_id, recipient, …) holds org_id anyway.
CREATE TABLE new_message_recipients (
    org_id        TEXT NOT NULL,
    message_ref   INTEGER NOT NULL, -- ses_messages.id
    recipient     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_rank   INTEGER NOT NULL,
    status_at     INTEGER NOT NULL, -- unix ms
    last_event_at INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (org_id, message_ref, recipient)
) WITHOUT ROWID;
INSERT INTO new_message_recipients (org_id, message_ref, recipient, domain, status, status_rank, status_at, last_event_at)
SELECT r.org_id, m.id, r.recipient, r.domain, r.status, r.status_rank,
       strftime('%s', r.status_at) * 1000 + CASE WHEN substr(r.status_at, 20, 1) = '.' THEN CAST(substr(r.status_at, 21, 3) AS INTEGER) ELSE 0 END,
       strftime('%s', r.last_event_at) * 1000 + CASE WHEN substr(r.last_event_at, 20, 1) = '.' THEN CAST(substr(r.last_event_at, 21, 3) AS INTEGER) ELSE 0 END
FROM message_recipients r JOIN new_ses_messages m ON m.org_id = r.org_id AND m.message_id = r.message_id;

-- One row per SES event and recipient, of one message. Events carry no
-- org_id: every query reaches them through their message, selected by
-- org_id (see store.Message).
CREATE TABLE new_events (
    id             INTEGER PRIMARY KEY,
    row_key        BLOB NOT NULL UNIQUE,
    message_ref    INTEGER NOT NULL, -- ses_messages.id
    type           TEXT NOT NULL,
    at             INTEGER NOT NULL, -- unix ms
    recipient      TEXT NOT NULL,
    bounce_type    TEXT NOT NULL DEFAULT '',
    bounce_subtype TEXT NOT NULL DEFAULT '',
    diagnostic     TEXT NOT NULL DEFAULT '',
    reporting_mta  TEXT NOT NULL DEFAULT '',
    complaint_type TEXT NOT NULL DEFAULT '',
    link           TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT '',
    ip             TEXT NOT NULL DEFAULT '',
    raw            BLOB
);
INSERT INTO new_events (id, row_key, message_ref, type, at, recipient, bounce_type, bounce_subtype, diagnostic, reporting_mta,
                        complaint_type, link, user_agent, ip, raw)
SELECT e.id, e.row_key, m.id, e.type,
       strftime('%s', e.at) * 1000 + CASE WHEN substr(e.at, 20, 1) = '.' THEN CAST(substr(e.at, 21, 3) AS INTEGER) ELSE 0 END,
       e.recipient, e.bounce_type, e.bounce_subtype, e.diagnostic, e.reporting_mta, e.complaint_type, e.link, e.user_agent, e.ip, e.raw
FROM events e JOIN new_ses_messages m ON m.org_id = e.org_id AND m.message_id = e.message_id
ORDER BY e.id;

CREATE TABLE new_recipient_stats (
    org_id         TEXT NOT NULL,
    recipient_hash BLOB NOT NULL,
    sent           INTEGER NOT NULL DEFAULT 0,
    delivered      INTEGER NOT NULL DEFAULT 0,
    bounced        INTEGER NOT NULL DEFAULT 0,
    complained     INTEGER NOT NULL DEFAULT 0,
    opened         INTEGER NOT NULL DEFAULT 0,
    clicked        INTEGER NOT NULL DEFAULT 0,
    last_event_at  INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (org_id, recipient_hash)
) WITHOUT ROWID;
INSERT INTO new_recipient_stats
SELECT org_id, recipient_hash, sent, delivered, bounced, complained, opened, clicked,
       strftime('%s', last_event_at) * 1000 + CASE WHEN substr(last_event_at, 20, 1) = '.' THEN CAST(substr(last_event_at, 21, 3) AS INTEGER) ELSE 0 END
FROM recipient_stats;

DROP TABLE events;
DROP TABLE message_recipients;
DROP TABLE ses_messages;
DROP TABLE recipient_stats;
ALTER TABLE new_ses_messages RENAME TO ses_messages;
ALTER TABLE new_message_recipients RENAME TO message_recipients;
ALTER TABLE new_events RENAME TO events;
ALTER TABLE new_recipient_stats RENAME TO recipient_stats;

-- Messages by the time they were sent, per organisation.
CREATE INDEX ses_messages_sent ON ses_messages (org_id, sent_at);
-- Recipient search: exact address and prefix, newest message first.
CREATE INDEX message_recipients_recipient ON message_recipients (org_id, recipient, message_ref);
-- A message's events in time order.
CREATE INDEX events_message ON events (message_ref, at);
