-- A compact number per organisation, and the derived tables of migration
-- 0013 keyed by it instead of the 26-character organisation id: one to
-- three bytes per row and per index entry instead of 27. The number is
-- given when the organisation is stored (the trigger below) and never
-- changes; store.orgNum reads it once per query or ingest batch. A number
-- that no organisation has (0) finds nothing.
ALTER TABLE orgs ADD COLUMN num INTEGER;
UPDATE orgs SET num = rowid;
CREATE UNIQUE INDEX orgs_num ON orgs (num);
CREATE TRIGGER orgs_num_insert AFTER INSERT ON orgs WHEN NEW.num IS NULL
BEGIN
    UPDATE orgs SET num = (SELECT coalesce(max(num), 0) + 1 FROM orgs) WHERE rowid = NEW.rowid;
END;

-- Each table is made anew under its name and filled from the old one
-- (renamed), as in PostgreSQL's migration.
ALTER TABLE subject_words RENAME TO subject_words_0013;
CREATE TABLE subject_words (
    org_num     INTEGER NOT NULL, -- orgs.num
    word        TEXT NOT NULL,
    sent_at     INTEGER NOT NULL, -- unix ms, of the message
    message_ref INTEGER NOT NULL, -- ses_messages.id
    PRIMARY KEY (org_num, word, sent_at, message_ref)
) WITHOUT ROWID;
INSERT INTO subject_words (org_num, word, sent_at, message_ref)
SELECT o.num, w.word, w.sent_at, w.message_ref FROM subject_words_0013 w JOIN orgs o ON o.id = w.org_id;
DROP TABLE subject_words_0013;

ALTER TABLE message_tags RENAME TO message_tags_0013;
CREATE TABLE message_tags (
    org_num     INTEGER NOT NULL, -- orgs.num
    tag_key     TEXT NOT NULL,
    tag_value   TEXT NOT NULL,
    sent_at     INTEGER NOT NULL, -- unix ms, of the message
    message_ref INTEGER NOT NULL, -- ses_messages.id
    PRIMARY KEY (org_num, tag_key, tag_value, sent_at, message_ref)
) WITHOUT ROWID;
INSERT INTO message_tags (org_num, tag_key, tag_value, sent_at, message_ref)
SELECT o.num, t.tag_key, t.tag_value, t.sent_at, t.message_ref FROM message_tags_0013 t JOIN orgs o ON o.id = t.org_id;
DROP TABLE message_tags_0013;

ALTER TABLE rollups_daily RENAME TO rollups_daily_0013;
CREATE TABLE rollups_daily (
    org_num     INTEGER NOT NULL, -- orgs.num
    dim         TEXT NOT NULL,
    day         TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    bounce_type TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (org_num, dim, day, key, value, event_type, bounce_type)
) WITHOUT ROWID;
INSERT INTO rollups_daily (org_num, dim, day, key, value, event_type, bounce_type, count)
SELECT o.num, r.dim, r.day, r.key, r.value, r.event_type, r.bounce_type, r.count FROM rollups_daily_0013 r JOIN orgs o ON o.id = r.org_id;
DROP TABLE rollups_daily_0013;

ALTER TABLE rollups_feedback_daily RENAME TO rollups_feedback_daily_0013;
CREATE TABLE rollups_feedback_daily (
    org_num        INTEGER NOT NULL, -- orgs.num
    dim            TEXT NOT NULL,
    day            TEXT NOT NULL,
    key            TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    bounce_type    TEXT NOT NULL,
    bounce_subtype TEXT NOT NULL,
    status_code    TEXT NOT NULL,
    count          INTEGER NOT NULL,
    PRIMARY KEY (org_num, dim, day, key, event_type, bounce_type, bounce_subtype, status_code)
) WITHOUT ROWID;
INSERT INTO rollups_feedback_daily (org_num, dim, day, key, event_type, bounce_type, bounce_subtype, status_code, count)
SELECT o.num, r.dim, r.day, r.key, r.event_type, r.bounce_type, r.bounce_subtype, r.status_code, r.count
FROM rollups_feedback_daily_0013 r JOIN orgs o ON o.id = r.org_id;
DROP TABLE rollups_feedback_daily_0013;
