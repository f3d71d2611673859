-- A message keeps one copy of the mail object that each of its SES events
-- repeats (zstd, package rawjson); events stored from now on keep only how
-- theirs differs from it. Events stored before keep their whole JSON.
ALTER TABLE ses_messages ADD COLUMN mail BLOB;
