-- The messages, their recipients and the per-recipient analytics keyed by
-- the organisation's number (orgs.num, migration 0014) instead of its
-- 26-character id: 4 bytes per row and per index entry instead of 27, in
-- the three tables and twelve indexes (primary keys included) that ingest
-- writes for every message and recipient (BENCHMARKS.md, "Organisation numbers in the messages").
--
-- Existing rows are copied into new tables, which are then renamed, as in
-- migration 0007; a message keeps its id (events and the derived tables
-- refer to it) and the identity goes on after the largest.

CREATE TABLE new_ses_messages (
    id             BIGINT GENERATED ALWAYS AS IDENTITY,
    sent_at        TIMESTAMPTZ,
    first_event_at TIMESTAMPTZ NOT NULL,
    last_event_at  TIMESTAMPTZ NOT NULL,
    org_num        INTEGER NOT NULL, -- orgs.num
    message_id     TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    sender         TEXT NOT NULL DEFAULT '',
    sending_domain TEXT NOT NULL DEFAULT '',
    subject        TEXT NOT NULL DEFAULT '',
    config_set     TEXT NOT NULL DEFAULT '',
    template       TEXT NOT NULL DEFAULT '',
    tags           TEXT NOT NULL DEFAULT '',
    mail           BYTEA
);
INSERT INTO new_ses_messages (id, sent_at, first_event_at, last_event_at, org_num, message_id, connection_id, sender, sending_domain,
                              subject, config_set, template, tags, mail)
OVERRIDING SYSTEM VALUE
SELECT m.id, m.sent_at, m.first_event_at, m.last_event_at, o.num, m.message_id, m.connection_id, m.sender, m.sending_domain,
       m.subject, m.config_set, m.template, m.tags, m.mail
FROM ses_messages m JOIN orgs o ON o.id = m.org_id ORDER BY m.id;
SELECT setval('new_ses_messages_id_seq', max(id)) FROM new_ses_messages HAVING max(id) IS NOT NULL;

CREATE TABLE new_message_recipients (
    message_ref   BIGINT NOT NULL, -- ses_messages.id
    status_at     TIMESTAMPTZ NOT NULL,
    last_event_at TIMESTAMPTZ NOT NULL,
    sent_at       TIMESTAMPTZ NOT NULL, -- of the message
    org_num       INTEGER NOT NULL,     -- orgs.num
    status_rank   SMALLINT NOT NULL,
    recipient     TEXT NOT NULL,
    domain        TEXT NOT NULL,
    status        TEXT NOT NULL
);
INSERT INTO new_message_recipients (message_ref, status_at, last_event_at, sent_at, org_num, status_rank, recipient, domain, status)
SELECT r.message_ref, r.status_at, r.last_event_at, r.sent_at, o.num, r.status_rank, r.recipient, r.domain, r.status
FROM message_recipients r JOIN orgs o ON o.id = r.org_id ORDER BY r.message_ref, r.recipient;

CREATE TABLE new_recipient_stats (
    last_event_at  TIMESTAMPTZ NOT NULL,
    sent           INTEGER NOT NULL DEFAULT 0,
    delivered      INTEGER NOT NULL DEFAULT 0,
    bounced        INTEGER NOT NULL DEFAULT 0,
    complained     INTEGER NOT NULL DEFAULT 0,
    opened         INTEGER NOT NULL DEFAULT 0,
    clicked        INTEGER NOT NULL DEFAULT 0,
    org_num        INTEGER NOT NULL, -- orgs.num
    recipient_hash BYTEA NOT NULL
);
INSERT INTO new_recipient_stats (last_event_at, sent, delivered, bounced, complained, opened, clicked, org_num, recipient_hash)
SELECT s.last_event_at, s.sent, s.delivered, s.bounced, s.complained, s.opened, s.clicked, o.num, s.recipient_hash
FROM recipient_stats s JOIN orgs o ON o.id = s.org_id;

-- A message of an organisation that does not exist (none should: they are
-- never deleted) is not copied, nor are its recipients and analytics; its
-- events go too, so that none is left to a later message given its id.
DELETE FROM events WHERE message_ref IN (SELECT m.id FROM ses_messages m WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = m.org_id));

DROP TABLE ses_messages;
DROP TABLE message_recipients;
DROP TABLE recipient_stats;
ALTER TABLE new_ses_messages RENAME TO ses_messages;
ALTER TABLE new_message_recipients RENAME TO message_recipients;
ALTER TABLE new_recipient_stats RENAME TO recipient_stats;
ALTER SEQUENCE new_ses_messages_id_seq RENAME TO ses_messages_id_seq;

ALTER TABLE ses_messages ADD PRIMARY KEY (org_num, message_id), ADD UNIQUE (id);
CREATE INDEX ses_messages_sent ON ses_messages (org_num, sent_at);
CREATE INDEX ses_messages_connection ON ses_messages (connection_id, sent_at, id);
CREATE INDEX ses_messages_sender ON ses_messages (org_num, sender, sent_at, id);
CREATE INDEX ses_messages_sending_domain ON ses_messages (org_num, sending_domain, sent_at, id);
CREATE INDEX ses_messages_config_set ON ses_messages (org_num, config_set, sent_at, id) WHERE config_set <> '';
CREATE INDEX ses_messages_template ON ses_messages (org_num, template, sent_at, id) WHERE template <> '';

ALTER TABLE message_recipients ADD PRIMARY KEY (org_num, message_ref, recipient);
CREATE INDEX message_recipients_recipient ON message_recipients (org_num, recipient text_pattern_ops, sent_at, message_ref);
CREATE INDEX message_recipients_domain ON message_recipients (org_num, domain, sent_at, message_ref);
CREATE INDEX message_recipients_sent ON message_recipients (org_num, sent_at, message_ref, recipient text_pattern_ops);
CREATE INDEX message_recipients_status ON message_recipients (org_num, status, sent_at, message_ref)
    WHERE status NOT IN ('delivered', 'opened', 'clicked');

ALTER TABLE recipient_stats ADD PRIMARY KEY (org_num, recipient_hash);
