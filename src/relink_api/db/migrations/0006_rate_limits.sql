-- Rate limits (issue 11), kept here so that every process and replica shares them. One row
-- per limited key (a customer, an operator key, a client address, the Stripe budget) holds
-- the GCRA "theoretical arrival time": the moment the key's bucket would be full again.
-- A row whose `tat` has passed carries no state (a missing row means the same), so
-- `relink-api prune-events` deletes those. `allowed` and `checked_at` are what the last
-- check decided and when: RETURNING sees only the new row, and they let one statement
-- report its own decision. No index beyond the key: updates stay HOT.
CREATE TABLE rate_limits (
    key         text PRIMARY KEY,
    tat         timestamptz NOT NULL,
    checked_at  timestamptz NOT NULL,
    allowed     boolean NOT NULL
);
