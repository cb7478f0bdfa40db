-- Idempotency keys (issue 6). A key is claimed before the work starts and answered from
-- its resource ids once it is done. `locked_until` is the claim's lease: a request that
-- died mid-way (crash, lost connection) frees its key when the lease ends, and the retry
-- derives the same ids from (principal, key, created_at), so Stripe's own idempotency
-- returns the object the first attempt may already have created.
ALTER TABLE idempotency_keys ADD COLUMN locked_until timestamptz;
ALTER TABLE idempotency_keys ADD COLUMN completed_at timestamptz;
ALTER TABLE idempotency_keys ADD CHECK ((status_code IS NULL) = (completed_at IS NULL));
