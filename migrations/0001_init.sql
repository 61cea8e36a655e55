-- 0001_init.sql: the first schema of gpuproof-server.
-- Receipts as submitted (raw) with the verification record and the summary fields that listings
-- need; the signer key cache; the receipt ledger (leaves, stored complete-subtree hashes,
-- signed checkpoints); small key/value metadata.

CREATE TABLE receipts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- order of arrival
    id              TEXT NOT NULL UNIQUE,               -- sha256 hex of the canonical bytes
    raw             BLOB NOT NULL,                      -- exactly as submitted
    canonical       BLOB NOT NULL,
    repo            TEXT,                               -- owner/name or NULL
    commit_sha      TEXT NOT NULL,                      -- lower-case hex
    branch          TEXT,
    signer          TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'rejected')),
    key_fingerprint TEXT,                               -- of the key that verified, never the claim
    key_type        TEXT,
    mode            TEXT,
    dirty           INTEGER NOT NULL,
    started_at      TEXT,
    ended_at        TEXT,
    received_at     TEXT NOT NULL,
    verified_at     TEXT,
    passed          INTEGER NOT NULL,
    failed          INTEGER NOT NULL,
    skipped         INTEGER NOT NULL,
    total           INTEGER NOT NULL,
    gpus            TEXT NOT NULL DEFAULT '[]',         -- JSON list
    validates       INTEGER NOT NULL DEFAULT 0,
    reasons         TEXT NOT NULL DEFAULT '[]',         -- JSON list of sentences
    attempts        INTEGER NOT NULL DEFAULT 0,         -- background verification tries
    next_attempt_ms INTEGER,
    last_error      TEXT
);
CREATE INDEX receipts_commit ON receipts (commit_sha, seq);
CREATE INDEX receipts_repo ON receipts (repo, seq);
CREATE INDEX receipts_signer ON receipts (signer, seq);
CREATE INDEX receipts_received ON receipts (received_at);
CREATE INDEX receipts_pending ON receipts (next_attempt_ms) WHERE status = 'pending';

CREATE TABLE signer_keys (
    login      TEXT PRIMARY KEY,
    body       BLOB,
    result     TEXT NOT NULL CHECK (result IN ('ok', 'notfound')),
    fetched_at INTEGER NOT NULL                          -- unix seconds
);

CREATE TABLE ledger_leaves (
    idx        INTEGER PRIMARY KEY,                     -- 0, 1, 2, ... never changed
    receipt_id TEXT NOT NULL UNIQUE REFERENCES receipts (id),
    entry      BLOB NOT NULL,                           -- canonical JSON entry bytes
    leaf_hash  BLOB NOT NULL                            -- SHA-256(0x00 || entry)
);

-- Hash of every complete subtree: (level, idx) covers leaves [idx << level, (idx + 1) << level).
CREATE TABLE ledger_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
