-- The prioritised sync sweep (accounts/leases.py): accounts needing attention are leased
-- before healthy ones, each class from an index in the order it is taken, so that a lease
-- at a million accounts reads the few rows it takes instead of sorting the table.
--
-- An account never confirmed by a read (stored from a webhook) is due first: its age is
-- -infinity, so one range condition on the age covers it, with no `IS NULL OR` to stop the
-- index from bounding the scan. Disconnected accounts are never re-read and are left out of
-- every index, so that years of them do not sit in front of the due ones.

-- Every account, on the healthy cycle (and any account, with `sync --stale-after`).
CREATE INDEX accounts_sync_due_idx
    ON accounts ((COALESCE(confirmed_at, '-infinity'::timestamptz)), id)
    WHERE status <> 'disconnected';
-- Replaced by the one above, which leaves disconnected accounts out.
DROP INDEX accounts_confirmed_idx;

-- Broken (inactive, or a status this code does not know) and Stripe-warned accounts.
CREATE INDEX accounts_sync_attention_idx
    ON accounts ((COALESCE(confirmed_at, '-infinity'::timestamptz)), id)
    WHERE status <> 'disconnected' AND (status <> 'active' OR action = 'relink_required');

-- Tokenized account numbers, soonest expiry first; the age beside it lets the scan skip
-- accounts confirmed lately without reading the table.
CREATE INDEX accounts_sync_number_expiry_idx
    ON accounts (account_number_expires_at, (COALESCE(confirmed_at, '-infinity'::timestamptz)))
    WHERE status = 'active' AND account_number_expires_at IS NOT NULL;

-- Relinks in progress (the sweep's third class, and settling unfinished sessions).
CREATE INDEX relink_sessions_open_idx ON relink_sessions (created_at) WHERE status = 'open';
