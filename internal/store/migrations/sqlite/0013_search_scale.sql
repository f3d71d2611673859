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
-- its MD5 (store.indexWord). It replaces the FTS5 index of migration 0011,
-- whose matches came in message id order and had to be sorted.
CREATE TABLE subject_words (
    org_id      TEXT NOT NULL,
    word        TEXT NOT NULL,
    sent_at     INTEGER NOT NULL, -- unix ms, of the message
    message_ref INTEGER NOT NULL, -- ses_messages.id
    PRIMARY KEY (org_id, word, sent_at, message_ref)
) WITHOUT ROWID;
-- sendops_subject_words is store's function: a subject's index words as a
-- JSON array.
INSERT OR IGNORE INTO subject_words (org_id, word, sent_at, message_ref)
SELECT m.org_id, w.value, m.sent_at, m.id
FROM ses_messages m, json_each(sendops_subject_words(m.subject)) w
WHERE m.subject <> '' AND m.sent_at IS NOT NULL;

DROP TRIGGER ses_messages_subject_insert;
DROP TRIGGER ses_messages_subject_delete;
DROP TRIGGER ses_messages_subject_update;
DROP TABLE ses_messages_subject;

-- The sender's message tags, one row per key and value, newest first per
-- tag. Keys and values of more than 200 characters are not in it: a
-- search for one reads the messages instead (store.indexedTag).
CREATE TABLE message_tags (
    org_id      TEXT NOT NULL,
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    sent_at     INTEGER NOT NULL, -- unix ms, of the message
    message_ref INTEGER NOT NULL, -- ses_messages.id
    PRIMARY KEY (org_id, tag_key, tag_value, sent_at, message_ref)
) WITHOUT ROWID;
INSERT OR IGNORE INTO message_tags (org_id, tag_key, tag_value, sent_at, message_ref)
SELECT m.org_id, t.key, v.value, m.sent_at, m.id
FROM ses_messages m, json_each(m.tags) t, json_each(t.value) v
WHERE m.tags <> '' AND json_valid(m.tags) AND m.sent_at IS NOT NULL AND json_type(t.value) = 'array' AND v.type = 'text'
  AND length(t.key) <= 200 AND length(v.value) <= 200;

-- A message filter's messages newest first (+ the rowid, the message's id:
-- the search's order). Connection ids are unique across organisations.
-- Empty templates and configuration sets are not searched for (an empty
-- filter does not filter), so they are left out; the search repeats the
-- "<> ''" so that the planner may use these partial indexes.
CREATE INDEX ses_messages_connection ON ses_messages (connection_id, sent_at);
CREATE INDEX ses_messages_sender ON ses_messages (org_id, sender, sent_at);
CREATE INDEX ses_messages_sending_domain ON ses_messages (org_id, sending_domain, sent_at);
CREATE INDEX ses_messages_config_set ON ses_messages (org_id, config_set, sent_at) WHERE config_set <> '';
CREATE INDEX ses_messages_template ON ses_messages (org_id, template, sent_at) WHERE template <> '';

-- Recipients of the statuses that are a few per cent of the mail or less
-- (bounced, complained, rejected, delayed, failed, no outcome yet), newest
-- first per status (+ message_ref, recipient). Delivered, opened and
-- clicked are common: reading the messages newest first finds a page of
-- them soon, and they would make this index as large as the table.
CREATE INDEX message_recipients_status ON message_recipients (org_id, status, sent_at)
    WHERE status NOT IN ('delivered', 'opened', 'clicked');

-- Daily rollups, one row per organisation, dimension, UTC day, value and
-- event type: what a range of whole days reads instead of 24 rows an hour
-- of rollups_hourly's every combination of dimensions. Each is the sum of
-- the hourly rollups' rows of its day (the hours at a range's ends come
-- from those). dim is '' (the organisation's totals, key ''), connection,
-- configuration_set, sending_domain, template, recipient_domain or tag
-- (key the tag's key, value its value, as rollups_tags_hourly counted
-- them); value is '' but for tags. Days are text, YYYY-MM-DD.
CREATE TABLE rollups_daily (
    org_id      TEXT NOT NULL,
    dim         TEXT NOT NULL,
    day         TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (org_id, dim, day, key, value, event_type, bounce_type)
) WITHOUT ROWID;

-- Bounces and complaints per day, dimension and value, with
-- rollups_feedback_hourly's sub-type and status code. dim as above, no tag.
CREATE TABLE rollups_feedback_daily (
    org_id         TEXT NOT NULL,
    dim            TEXT NOT NULL,
    day            TEXT NOT NULL,
    key            TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    bounce_type    TEXT NOT NULL,
    bounce_subtype TEXT NOT NULL,
    status_code    TEXT NOT NULL,
    count          INTEGER NOT NULL,
    PRIMARY KEY (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code)
) WITHOUT ROWID;

INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, '', substr(hour, 1, 10), '', '', event_type, bounce_type, sum(count)
FROM rollups_totals_hourly GROUP BY org_id, substr(hour, 1, 10), event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'connection', substr(hour, 1, 10), connection_id, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, substr(hour, 1, 10), connection_id, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'configuration_set', substr(hour, 1, 10), config_set, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, substr(hour, 1, 10), config_set, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'sending_domain', substr(hour, 1, 10), sending_domain, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, substr(hour, 1, 10), sending_domain, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'template', substr(hour, 1, 10), template, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, substr(hour, 1, 10), template, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'recipient_domain', substr(hour, 1, 10), recipient_domain, '', event_type, bounce_type, sum(count)
FROM rollups_hourly GROUP BY org_id, substr(hour, 1, 10), recipient_domain, event_type, bounce_type;
INSERT INTO rollups_daily (org_id, dim, day, key, value, event_type, bounce_type, count)
SELECT org_id, 'tag', substr(hour, 1, 10), tag_key, tag_value, event_type, bounce_type, sum(count)
FROM rollups_tags_hourly GROUP BY org_id, substr(hour, 1, 10), tag_key, tag_value, event_type, bounce_type;

INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, '', substr(hour, 1, 10), '', event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'connection', substr(hour, 1, 10), connection_id, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), connection_id, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'configuration_set', substr(hour, 1, 10), config_set, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), config_set, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'sending_domain', substr(hour, 1, 10), sending_domain, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), sending_domain, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'template', substr(hour, 1, 10), template, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), template, event_type, bounce_type, bounce_subtype, status_code;
INSERT INTO rollups_feedback_daily (org_id, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT org_id, 'recipient_domain', substr(hour, 1, 10), recipient_domain, event_type, bounce_type, bounce_subtype, status_code, sum(count)
FROM rollups_feedback_hourly GROUP BY org_id, substr(hour, 1, 10), recipient_domain, event_type, bounce_type, bounce_subtype, status_code;
