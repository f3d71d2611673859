-- Message search: every row of the search is a (message, recipient) pair,
-- newest first by its message's send time.
--
-- * Every message has a send time (ingest sets it from the first event
--   stored; older rows without one take their first event's time).
-- * The recipient index carries its message's send time, set once when the
--   row is written: exact-address and domain searches read one index range
--   already in the search's order (send time, message id; recipient by an
--   incremental sort) and stop after a page, whatever the number of matches.
-- * Address prefixes are a range of the recipient index compared byte by
--   byte (text_pattern_ops, the ~>=~ and ~<~ operators), right whatever the
--   database's collation; equality uses that index too.
-- * Subject words: a GIN index of the subject's words. ASCII punctuation
--   is turned into spaces first, so that the parser sees plain words
--   ("bob@example.com" is bob, example, com; "password-reset" is password,
--   reset), as SendOps splits the words of a query and as SQLite's FTS5
--   does. The search repeats this exact expression (store.pgSubjectVector).
--   New entries wait in the index's pending list until it holds 256 kB
--   (the default is 4 MB): every search reads the whole pending list, and
--   4 MB of it made a rare word's search 30-40 ms instead of 7.

UPDATE ses_messages SET sent_at = first_event_at WHERE sent_at IS NULL;

ALTER TABLE message_recipients ADD COLUMN sent_at TIMESTAMPTZ;
UPDATE message_recipients r SET sent_at = m.sent_at FROM ses_messages m WHERE m.id = r.message_ref;
UPDATE message_recipients SET sent_at = to_timestamp(0) WHERE sent_at IS NULL;
ALTER TABLE message_recipients ALTER COLUMN sent_at SET NOT NULL;

DROP INDEX message_recipients_recipient;
CREATE INDEX message_recipients_recipient ON message_recipients (org_id, recipient text_pattern_ops, sent_at, message_ref);
CREATE INDEX message_recipients_domain ON message_recipients (org_id, domain, sent_at, message_ref);

CREATE INDEX ses_messages_subject ON ses_messages
    USING gin (to_tsvector('simple'::regconfig, regexp_replace(subject, '[^0-9A-Za-z\u0080-\U0010FFFF]+', ' ', 'g')))
    WITH (gin_pending_list_limit = 256);
