-- Message search: every row of the search is a (message, recipient) pair,
-- newest first by its message's send time.
--
-- * Every message has a send time (ingest sets it from the first event
--   stored; older rows without one take their first event's time).
-- * The recipient index carries its message's send time, set once when the
--   row is written: exact-address and domain searches read one index range
--   already in the search's order (send time, message id, recipient) and
--   stop after a page, whatever the number of matches.
-- * Subject words: an FTS5 index of ses_messages.subject (contentless
--   beyond the index itself: it reads the subject from ses_messages), kept
--   by triggers in the writing transaction. detail=none keeps only which
--   messages hold each word (no positions): word and word-prefix queries,
--   which is what the search offers.

UPDATE ses_messages SET sent_at = first_event_at WHERE sent_at IS NULL;

ALTER TABLE message_recipients ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0; -- unix ms, of the message
UPDATE message_recipients SET sent_at = coalesce((SELECT m.sent_at FROM ses_messages m WHERE m.id = message_recipients.message_ref), 0);

-- (org_id, recipient, sent_at) + the primary key's message_ref: an
-- address's messages newest first; address prefixes as a range.
DROP INDEX message_recipients_recipient;
CREATE INDEX message_recipients_recipient ON message_recipients (org_id, recipient, sent_at);
-- (org_id, domain, sent_at) + message_ref, recipient: a whole domain in the
-- search's order.
CREATE INDEX message_recipients_domain ON message_recipients (org_id, domain, sent_at);

CREATE VIRTUAL TABLE ses_messages_subject USING fts5(
    subject,
    content = 'ses_messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0',
    detail = 'none', columnsize = 0
);
INSERT INTO ses_messages_subject (ses_messages_subject) VALUES ('rebuild');

-- The index holds exactly the non-empty subjects; a delete must name the
-- subject that was indexed, which old.subject is.
CREATE TRIGGER ses_messages_subject_insert AFTER INSERT ON ses_messages WHEN new.subject <> '' BEGIN
    INSERT INTO ses_messages_subject (rowid, subject) VALUES (new.id, new.subject);
END;
CREATE TRIGGER ses_messages_subject_delete AFTER DELETE ON ses_messages WHEN old.subject <> '' BEGIN
    INSERT INTO ses_messages_subject (ses_messages_subject, rowid, subject) VALUES ('delete', old.id, old.subject);
END;
CREATE TRIGGER ses_messages_subject_update AFTER UPDATE OF subject ON ses_messages WHEN old.subject IS NOT new.subject BEGIN
    INSERT INTO ses_messages_subject (ses_messages_subject, rowid, subject) SELECT 'delete', old.id, old.subject WHERE old.subject <> '';
    INSERT INTO ses_messages_subject (rowid, subject) SELECT new.id, new.subject WHERE new.subject <> '';
END;
