-- An organisation's recipients newest first, with their addresses: a
-- search for a common address prefix walks it and tests each entry's
-- address in the index, never reading the table for one that fails.
-- Reading the messages newest first instead and looking up each one's
-- recipients (what SQLite still does, cheaply, by rowid) costs PostgreSQL
-- two index descents and two heap reads per message: 150–230 ms for a
-- page of a three-character prefix at 2.8M messages (BENCHMARKS.md).
CREATE INDEX message_recipients_sent ON message_recipients (org_id, sent_at, message_ref, recipient text_pattern_ops);
