-- 0003_lean_rows.sql: fewer bytes written per receipt (issue 8).
-- * receipts.canonical goes: it is the canonical form of raw, recomputed (receipt-v1.md) wherever
--   it is needed. It doubled every row (a receipt row filled a 4 KiB page alone).
-- * The receipt row names its ledger leaf (leaf_idx, set in the transaction that appends the
--   leaf), so ledger_leaves no longer needs its UNIQUE index on receipt_id: that index had random
--   keys, and every append dirtied a random page of it. receipts_leaf only grows at its end.
--   One leaf per receipt is kept by receipts_leaf (one receipt per leaf) and by the append itself
--   (only a receipt that is inserted verified, or moves from pending to verified, gets one);
--   check-ledger verifies both directions.

ALTER TABLE receipts DROP COLUMN canonical;
ALTER TABLE receipts ADD COLUMN leaf_idx INTEGER;
UPDATE receipts SET leaf_idx = (SELECT l.idx FROM ledger_leaves l WHERE l.receipt_id = receipts.id);
CREATE UNIQUE INDEX receipts_leaf ON receipts (leaf_idx) WHERE leaf_idx IS NOT NULL;

CREATE TABLE ledger_leaves_v3 (
    idx        INTEGER PRIMARY KEY,                     -- 0, 1, 2, ... never changed
    receipt_id TEXT NOT NULL REFERENCES receipts (id),
    entry      BLOB NOT NULL,                           -- canonical JSON entry bytes
    leaf_hash  BLOB NOT NULL                            -- SHA-256(0x00 || entry)
);
INSERT INTO ledger_leaves_v3 (idx, receipt_id, entry, leaf_hash)
    SELECT idx, receipt_id, entry, leaf_hash FROM ledger_leaves ORDER BY idx;
DROP TABLE ledger_leaves;
ALTER TABLE ledger_leaves_v3 RENAME TO ledger_leaves;
