-- The messages, their recipients and the per-recipient analytics keyed by
-- the organisation's number (orgs.num, migration 0014) instead of its
-- 26-character id: one byte per row and per index entry instead of 27, in
-- the three tables and nine indexes that ingest writes for every message
-- and recipient (BENCHMARKS.md, "Organisation numbers in the messages").
-- Each table is made anew under its name and filled from the old one
-- (renamed), whose indexes go with it; the new indexes keep the names.
ALTER TABLE ses_messages RENAME TO ses_messages_0016;
CREATE TABLE ses_messages (
    id             INTEGER PRIMARY KEY,
    org_num        INTEGER NOT NULL, -- orgs.num
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
    mail           BLOB,             -- migration 0015
    UNIQUE (org_num, message_id)
);
INSERT INTO ses_messages (id, org_num, message_id, connection_id, sender, sending_domain, subject, config_set, template, tags,
    sent_at, first_event_at, last_event_at, mail)
SELECT m.id, o.num, m.message_id, m.connection_id, m.sender, m.sending_domain, m.subject, m.config_set, m.template, m.tags,
    m.sent_at, m.first_event_at, m.last_event_at, m.mail
FROM ses_messages_0016 m JOIN orgs o ON o.id = m.org_id;
-- A message of an organisation that does not exist (none should: they are
-- never deleted) is not copied, nor are its recipients below; its events
-- go too, so that none is left to a later message given its id.
DELETE FROM events WHERE message_ref IN (SELECT m.id FROM ses_messages_0016 m WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = m.org_id));
DROP TABLE ses_messages_0016;
CREATE INDEX ses_messages_sent ON ses_messages (org_num, sent_at);
CREATE INDEX ses_messages_connection ON ses_messages (connection_id, sent_at);
CREATE INDEX ses_messages_sender ON ses_messages (org_num, sender, sent_at);
CREATE INDEX ses_messages_sending_domain ON ses_messages (org_num, sending_domain, sent_at);
CREATE INDEX ses_messages_config_set ON ses_messages (org_num, config_set, sent_at) WHERE config_set <> '';
CREATE INDEX ses_messages_template ON ses_messages (org_num, template, sent_at) WHERE template <> '';

ALTER TABLE message_recipients RENAME TO message_recipients_0016;
CREATE TABLE message_recipients (
    org_num       INTEGER NOT NULL, -- orgs.num
    message_ref   INTEGER NOT NULL, -- ses_messages.id
    recipient     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_rank   INTEGER NOT NULL,
    status_at     INTEGER NOT NULL, -- unix ms
    last_event_at INTEGER NOT NULL, -- unix ms
    sent_at       INTEGER NOT NULL, -- unix ms, of the message
    PRIMARY KEY (org_num, message_ref, recipient)
) WITHOUT ROWID;
INSERT INTO message_recipients (org_num, message_ref, recipient, domain, status, status_rank, status_at, last_event_at, sent_at)
SELECT o.num, r.message_ref, r.recipient, r.domain, r.status, r.status_rank, r.status_at, r.last_event_at, r.sent_at
FROM message_recipients_0016 r JOIN orgs o ON o.id = r.org_id;
DROP TABLE message_recipients_0016;
CREATE INDEX message_recipients_recipient ON message_recipients (org_num, recipient, sent_at);
CREATE INDEX message_recipients_domain ON message_recipients (org_num, domain, sent_at);
CREATE INDEX message_recipients_status ON message_recipients (org_num, status, sent_at)
    WHERE status NOT IN ('delivered', 'opened', 'clicked');

ALTER TABLE recipient_stats RENAME TO recipient_stats_0016;
CREATE TABLE recipient_stats (
    org_num        INTEGER NOT NULL, -- orgs.num
    recipient_hash BLOB NOT NULL,
    sent           INTEGER NOT NULL DEFAULT 0,
    delivered      INTEGER NOT NULL DEFAULT 0,
    bounced        INTEGER NOT NULL DEFAULT 0,
    complained     INTEGER NOT NULL DEFAULT 0,
    opened         INTEGER NOT NULL DEFAULT 0,
    clicked        INTEGER NOT NULL DEFAULT 0,
    last_event_at  INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (org_num, recipient_hash)
) WITHOUT ROWID;
INSERT INTO recipient_stats (org_num, recipient_hash, sent, delivered, bounced, complained, opened, clicked, last_event_at)
SELECT o.num, s.recipient_hash, s.sent, s.delivered, s.bounced, s.complained, s.opened, s.clicked, s.last_event_at
FROM recipient_stats_0016 s JOIN orgs o ON o.id = s.org_id;
DROP TABLE recipient_stats_0016;
