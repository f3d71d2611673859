-- Message search and dashboards at scale: every search filter and every
-- dashboard range reads an index range or a summary table in the order and
-- at the grain it needs, never all of an organisation's messages or a
-- year of hourly rows. Ingest (store.InsertEvents) keeps the new tables in
-- the transaction that stores the events.

-- Subject words, newest first per word: a word's messages are one index
-- range already in the search's order (send time, message id), so a
-- search stops after a page whether the word is in one message or in
-- half of them. The words are SendOps' own (store.SubjectWords: runs of
-- letters and digits, lower-cased), a message's each once; a word of more
-- than 32 characters is kept as its first 24, "…" and 16 hex digits of
-- its MD5 (store.indexWord). It replaces the GIN index of migration 0011,
-- whose matches came in message id order and had to be sorted.
CREATE TABLE subject_words (
    org_id      TEXT NOT NULL,
    word        TEXT COLLATE "C" NOT NULL, -- byte order: a prefix is a range
    sent_at     TIMESTAMPTZ NOT NULL, -- of the message
    message_ref BIGINT NOT NULL,      -- ses_messages.id
    PRIMARY KEY (org_id, word, sent_at, message_ref)
);
-- The words the GIN index of migration 0011 held (PostgreSQL's parser after
-- ASCII punctuation became spaces): a search finds what it found before.
INSERT INTO subject_words (org_id, word, sent_at, message_ref)
SELECT DISTINCT m.org_id,
       CASE WHEN char_length(w.lexeme) <= 32 THEN w.lexeme ELSE left(w.lexeme, 24) || '…' || left(md5(w.lexeme), 16) END,
       m.sent_at, m.id
FROM ses_messages m,
     unnest(to_tsvector('simple'::regconfig, regexp_replace(m.subject, '[^0-9A-Za-z\u0080-\U0010FFFF]+', ' ', 'g'))) w
WHERE m.subject <> '' AND m.sent_at IS NOT NULL
ON CONFLICT DO NOTHING;

DROP INDEX ses_messages_subject;

-- The sender's message tags, one row per key and value, newest first per
-- tag. Keys and values of more than 200 characters are not in it: a
-- search for one reads the messages instead (store.indexedTag).
CREATE TABLE message_tags (
    org_id      TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    sent_at     TIMESTAMPTZ NOT NULL, -- of the message
    message_ref BIGINT NOT NULL,      -- ses_messages.id
    PRIMARY KEY (org_id, tag_key, tag_value, sent_at, message_ref)
);
INSERT INTO message_tags (org_id, tag_key, tag_value, sent_at, message_ref)
SELECT m.org_id, t.key, v #>> '{}', m.sent_at, m.id
FROM ses_messages m,
     jsonb_each(m.tags::jsonb) t,
     jsonb_array_elements(CASE WHEN jsonb_typeof(t.value) = 'array' THEN t.value ELSE '[]'::jsonb END) v
WHERE m.tags <> '' AND m.sent_at IS NOT NULL AND jsonb_typeof(v) = 'string'
  AND char_length(t.key) <= 200 AND char_length(v #>> '{}') <= 200
ON CONFLICT DO NOTHING;

-- A message filter's messages newest first, then by id: the search's
-- order. Connection ids are unique across organisations. Empty templates
-- and configuration sets are not searched for (an empty filter does not
-- filter), so they are left out; the search repeats the "<> ''" so that
-- the planner may use these partial indexes.
CREATE INDEX ses_messages_connection ON ses_messages (connection_id, sent_at, id);
CREATE INDEX ses_messages_sender ON ses_messages (org_id, sender, sent_at, id);
CREATE INDEX ses_messages_sending_domain ON ses_messages (org_id, sending_domain, sent_at, id);
CREATE INDEX ses_messages_config_set ON ses_messages (org_id, config_set, sent_at, id) WHERE config_set <> '';
CREATE INDEX ses_messages_template ON ses_messages (org_id, template, sent_at, id) WHERE template <> '';

-- Recipients of the statuses that are a few per cent of the mail or less
-- (bounced, complained, rejected, delayed, failed, no outcome yet), newest
-- first per status. Delivered, opened and clicked are common: reading the
-- messages newest first finds a page of them soon, and they would make
-- this index as large as the table.
CREATE INDEX message_recipients_status ON message_recipients (org_id, status, sent_at, message_ref)
    WHERE status NOT IN ('delivered', 'opened', 'clicked');

-- Daily rollups, one row per organisation, dimension, UTC day, value and
-- event type: what a range of whole days reads instead of 24 rows an hour
-- of rollups_hourly's every combination of dimensions. Each is the sum of
-- the hourly rollups' rows of its day (the hours at a range's ends come
-- from those). dim is '' (the organisation's totals, key ''), connection,
-- configuration_set, sending_domain, template, recipient_domain or tag
-- (key the tag's key, value its value, as rollups_tags_hourly counted
-- them); value is '' but for tags. Days are UTC dates.
CREATE TABLE rollups_daily (
    org_id      TEXT NOT NULL,
    dim         TEXT NOT NULL,
    day         DATE NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (org_id, dim, day, key, value, event_type, bounce_type)
);

-- Bounces and complaints per day, dimension and value, with
-- rollups_feedback_hourly's sub-type and status code. dim as above, no tag.
CREATE TABLE rollups_feedback_daily (
    org_id         TEXT NOT NULL,
    dim            TEXT NOT NULL,
    day            DATE NOT NULL,
    key            TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    bounce_type    TEXT NOT NULL,
    bounce_subtype TEXT NOT NULL,
    status_code    TEXT NOT NULL,
    count          BIGINT NOT NULL,
    PRIMARY KEY (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code)
);

INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, '', (hour AT TIME ZONE 'UTC')::date, '', '', event_type, bounce_type, sum(count)
FROM rollups_totals_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'connection', (hour AT TIME ZONE 'UTC')::date, connection_id, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, connection_id, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'configuration_set', (hour AT TIME ZONE 'UTC')::date, config_set, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, config_set, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'sending_domain', (hour AT TIME ZONE 'UTC')::date, sending_domain, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, sending_domain, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'template', (hour AT TIME ZONE 'UTC')::date, template, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, template, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'recipient_domain', (hour AT TIME ZONE 'UTC')::date, recipient_domain, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, recipient_domain, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'tag', (hour AT TIME ZONE 'UTC')::date, tag_key, tag_value, event_type, bounce_type, sum(count)
FROM rollups_tags_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, tag_key, tag_value, event_type, bounce_type;

INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, '', (hour AT TIME ZONE 'UTC')::date, '', event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'connection', (hour AT TIME ZONE 'UTC')::date, connection_id, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, connection_id, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'configuration_set', (hour AT TIME ZONE 'UTC')::date, config_set, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, config_set, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'sending_domain', (hour AT TIME ZONE 'UTC')::date, sending_domain, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, sending_domain, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'template', (hour AT TIME ZONE 'UTC')::date, template, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, template, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'recipient_domain', (hour AT TIME ZONE 'UTC')::date, recipient_domain, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, (hour AT TIME ZONE 'UTC')::date, recipient_domain, event_type, bounce_type, bounce_subtype, status_code;
