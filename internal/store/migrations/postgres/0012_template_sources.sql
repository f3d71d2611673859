-- Templates as code: Git repositories an organisation reads its email
-- templates from (SendOps only reads them), what each sync found, and the
-- history of every template. Times are TIMESTAMPTZ.

-- A repository and its branch. auth_secret is the token or the SSH deploy
-- key, sealed (context "template-source-auth:<org_id>:<id>"); webhook_secret
-- is the secret push webhooks are signed with, sealed (context
-- "template-source-hook:<org_id>:<id>"). mapping is the user's mapping
-- rules as JSON, '' for the repository's own (its manifest and front
-- matter). synced_commit is the last good state; last_error the last
-- failed sync's sentence, '' after a good one. A worker syncs a source
-- when next_sync_at has passed (a schedule; NULL: none) or when a sync was
-- requested (sync_requested_at, by a webhook) a few seconds ago, holding
-- it by lease_owner until lease_until; the request is cleared when a sync
-- that started after it ends. mapping_changed_by is who changed the
-- mapping since the last good sync ('' when nobody did).
CREATE TABLE template_sources (
    org_id                TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    id                    TEXT NOT NULL UNIQUE,
    name                  TEXT NOT NULL,
    url                   TEXT NOT NULL,
    branch                TEXT NOT NULL,
    auth_kind             TEXT NOT NULL CHECK (auth_kind IN ('none', 'token', 'ssh_key')),
    auth_username         TEXT NOT NULL DEFAULT '',
    auth_secret           TEXT NOT NULL DEFAULT '',
    ssh_known_hosts       TEXT NOT NULL DEFAULT '',
    mapping               TEXT NOT NULL DEFAULT '',
    mapping_changed_by    TEXT NOT NULL DEFAULT '',
    sync_interval_minutes INTEGER NOT NULL DEFAULT 0,
    webhook_secret        TEXT NOT NULL DEFAULT '',
    synced_commit         TEXT NOT NULL DEFAULT '',
    synced_at             TIMESTAMPTZ,
    last_error            TEXT NOT NULL DEFAULT '',
    last_error_at         TIMESTAMPTZ,
    sync_requested_at     TIMESTAMPTZ,
    sync_trigger          TEXT NOT NULL DEFAULT '',
    next_sync_at          TIMESTAMPTZ,
    lease_owner           TEXT NOT NULL DEFAULT '',
    lease_until           TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    created_by            TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, id)
);
CREATE INDEX template_sources_next_sync ON template_sources (next_sync_at);
CREATE INDEX template_sources_requested ON template_sources (sync_requested_at);

-- A template's content, by the SHA-256 of its parts (see
-- service.templateHash): each distinct content once per source.
CREATE TABLE template_blobs (
    org_id    TEXT NOT NULL,
    source_id TEXT NOT NULL,
    hash      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    html      TEXT NOT NULL,
    text      TEXT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (org_id, source_id, hash),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);

-- The commits that changed a template: it appeared, changed or (blob_hash
-- NULL) disappeared. seq orders them within the source, oldest first.
-- cause is 'commit', or 'mapping' for a change no commit made (the
-- mapping changed): its author is then SendOps, its commit the one the
-- new mapping was applied to.
CREATE TABLE template_versions (
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    name         TEXT NOT NULL,
    commit_hash  TEXT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,
    author       TEXT NOT NULL,
    author_email TEXT NOT NULL,
    message      TEXT NOT NULL,
    blob_hash    TEXT,
    cause        TEXT NOT NULL DEFAULT 'commit' CHECK (cause IN ('commit', 'mapping')),
    PRIMARY KEY (org_id, source_id, name, seq),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);
CREATE INDEX template_versions_commit ON template_versions (org_id, source_id, commit_hash);

-- The templates at the source's synced commit, with what lint found
-- (problems: a JSON list) and the files they come from (files: JSON).
CREATE TABLE source_templates (
    org_id    TEXT NOT NULL,
    source_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    blob_hash TEXT NOT NULL,
    origin    TEXT NOT NULL,
    files     TEXT NOT NULL DEFAULT '',
    problems  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, source_id, name),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);

-- Each sync: what started it, how it ended, and the problems of the
-- repository's mapping as a whole (a JSON list; a failed sync's errors).
CREATE TABLE template_syncs (
    org_id       TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    trigger_kind TEXT NOT NULL CHECK (trigger_kind IN ('manual', 'schedule', 'webhook', 'create')),
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ NOT NULL,
    commit_hash  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error        TEXT NOT NULL DEFAULT '',
    templates    INTEGER NOT NULL DEFAULT 0,
    versions     INTEGER NOT NULL DEFAULT 0,
    problems     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (org_id, source_id, id),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);

-- Webhook deliveries seen, so that a replayed one is refused: by its
-- delivery id, and by body_hash, the SHA-256 of its body (what the
-- signature covers: a captured delivery sent again under a new id is
-- refused too). Kept 7 days.
CREATE TABLE git_hook_deliveries (
    org_id      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    body_hash   TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, source_id, delivery_id),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX git_hook_deliveries_body ON git_hook_deliveries (org_id, source_id, body_hash);
CREATE INDEX git_hook_deliveries_received ON git_hook_deliveries (received_at);

-- A template rendered with data a user typed, kept a few minutes under a
-- random id for the page's frame to fetch: the data never travels in a
-- URL. Deleted when expired.
CREATE TABLE template_previews (
    org_id     TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    html       TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);
CREATE INDEX template_previews_expires ON template_previews (expires_at);

-- Plans, pushes and drift run as jobs: kind plan, push or drift; input
-- what was asked (JSON, with who asked); result the answer (JSON, as the
-- API answers it) when done, error the refusal (JSON: code, field,
-- message) when failed; done of total the progress. A worker runs a
-- queued job, holding it by lease_owner until lease_until; a job whose
-- lease ran out (its replica died) is run again. Finished jobs are kept
-- 7 days.
CREATE TABLE template_jobs (
    org_id      TEXT NOT NULL,
    id          TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('plan', 'push', 'drift')),
    input       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    result      TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until TIMESTAMPTZ,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, source_id) REFERENCES template_sources (org_id, id) ON DELETE CASCADE
);
CREATE INDEX template_jobs_status ON template_jobs (status, lease_until);
CREATE INDEX template_jobs_finished ON template_jobs (finished_at);
