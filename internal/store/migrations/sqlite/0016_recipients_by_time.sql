-- Nothing on SQLite: PostgreSQL's migration 0016 adds an index for the
-- newest-first walk of a common address prefix, which SQLite makes from
-- the messages and their recipients' rows by rowid (BENCHMARKS.md).
SELECT 1;
