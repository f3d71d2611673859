-- The versions of the key that seals secrets at rest. Version N is derived
-- from a server secret key (named here by its fingerprint, never stored);
-- values seal under the newest version, and `sendops keys rotate` adds a
-- version and re-seals every value under it. The first server to start
-- records version 1.
CREATE TABLE seal_keys (
    version     INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
