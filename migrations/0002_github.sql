-- 0002_github.sql: GitHub integration.
-- The keys a login registered for signing (GET /users/{login}/ssh_signing_keys), cached beside
-- signer_keys with the same TTL; and the durable outbox of commit statuses: one row per
-- (repo, sha) holding the latest state only (a newer state replaces an undelivered older one),
-- drained by a background thread until GitHub answers 2xx.

CREATE TABLE signer_signing_keys (
    login      TEXT PRIMARY KEY,
    body       BLOB,                                     -- .keys-style lines, NULL when none
    result     TEXT NOT NULL CHECK (result IN ('ok', 'notfound')),
    fetched_at INTEGER NOT NULL                          -- unix seconds
);

CREATE TABLE github_statuses (
    repo            TEXT NOT NULL,                       -- owner/name
    sha             TEXT NOT NULL,                       -- lower-case hex
    state           TEXT NOT NULL CHECK (state IN ('success', 'failure', 'pending')),
    description     TEXT NOT NULL,
    target_url      TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,          -- bumped by every new state
    delivery        TEXT NOT NULL DEFAULT 'queued'
                    CHECK (delivery IN ('queued', 'delivered', 'given_up')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (repo, sha)
);
CREATE INDEX github_statuses_queued ON github_statuses (next_attempt_ms) WHERE delivery = 'queued';
