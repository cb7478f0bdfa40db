-- Reconciliation: when each account was last read from Stripe, and a lease so that several
-- `relink-api sync` runs (or replicas) never work on the same account at once.
ALTER TABLE accounts ADD COLUMN confirmed_at timestamptz;
ALTER TABLE accounts ADD COLUMN sync_lease_until timestamptz;
UPDATE accounts SET confirmed_at = updated_at;
CREATE INDEX accounts_confirmed_idx ON accounts (confirmed_at NULLS FIRST, id);

ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_result_check
    CHECK (result IN ('applied', 'stale', 'ignored'));
