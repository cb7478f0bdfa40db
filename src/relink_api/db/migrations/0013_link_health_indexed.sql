-- Link health at a million accounts. Health was computed row by row from status, action
-- and the clock, so a filter or count that cannot stop early read every account. It is
-- split in two: what Stripe's word alone says of the link (stored, indexed, counted), and
-- the one rule that depends on the clock (a tokenized account number nearing its expiry
-- turns an `ok` link `expiring`), answered from an index over the expiry dates, so that
-- only the accounts inside the window are read. The answers are those of the function
-- 0009 defined, which is now written as the composition of the two.

-- The health Stripe's word gives the link, without the clock: `ok` here may still be
-- `expiring` by its account number (relink_health_at).
CREATE FUNCTION relink_reported_health(status text, action text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'disconnected' THEN 'disconnected'
        -- An inactive account is repairable unless Stripe says there is nothing to do;
        -- a payload without status_details (older API version) is treated as repairable.
        WHEN status = 'inactive' AND action IS DISTINCT FROM 'none' THEN 'relink_required'
        WHEN status = 'inactive' THEN 'unrepairable'
        WHEN status IS DISTINCT FROM 'active' THEN 'unknown'
        WHEN action = 'relink_required' THEN 'expiring'
        ELSE 'ok'
    END
$$;

-- A tokenized account number that expires at or before this moment makes an `ok` link
-- `expiring` at `at`.
CREATE FUNCTION relink_expiring_until(at timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT at + interval '30 days'
$$;

-- The link health at `at` of an account whose reported health is `reported`.
CREATE FUNCTION relink_health_at(reported text, account_number_expires_at timestamptz, at timestamptz)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN reported = 'ok' AND account_number_expires_at <= relink_expiring_until(at)
            THEN 'expiring'
        ELSE reported
    END
$$;

CREATE OR REPLACE FUNCTION relink_link_health(
    status text,
    action text,
    account_number_expires_at timestamptz,
    at timestamptz
) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT relink_health_at(relink_reported_health(status, action), account_number_expires_at, at)
$$;

ALTER TABLE accounts ADD COLUMN reported_health text NOT NULL
    GENERATED ALWAYS AS (relink_reported_health(status, action)) STORED;

-- The operator's health filters, in id order (the pages' order): `ok`, nine accounts in
-- ten, is left out (a page of them is found at once in the primary key's order). With
-- Stripe's date, the summary counts expiring links by week without visiting the table.
CREATE INDEX accounts_unhealthy_idx ON accounts (reported_health, id)
    INCLUDE (expected_deactivation_at) WHERE reported_health <> 'ok';
-- The clock's rule: the `ok` accounts whose number expires inside a window, read as a
-- range (with their cause, for the summary's counts without visiting the table).
CREATE INDEX accounts_number_expiry_idx ON accounts (account_number_expires_at) INCLUDE (cause)
    WHERE reported_health = 'ok' AND account_number_expires_at IS NOT NULL;

-- Every account counted by reported health and cause, kept exact by the triggers below in
-- the transaction of every write. Writers only append changes (+n, -n), so concurrent
-- writers never wait for each other on a counter row (one row per group would make every
-- new account's transaction wait for the previous one's commit); readers sum them.
CREATE TABLE account_counts (
    reported_health text NOT NULL,
    cause           text,
    change          bigint NOT NULL
);

-- Replaces the changes by their sums, one row per group, so that reading the counts stays
-- cheap. Safe beside writers: it deletes only the changes its snapshot sees and puts back
-- exactly their sum; writers only insert, so they never wait for it. One fold at a time
-- (another finds the lock taken and leaves it): folds never wait for each other either.
CREATE FUNCTION relink_fold_account_counts() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('relink_fold_account_counts')) THEN
        RETURN;
    END IF;
    WITH folded AS (
        DELETE FROM account_counts RETURNING reported_health, cause, change
    )
    INSERT INTO account_counts (reported_health, cause, change)
    SELECT reported_health, cause, sum(change) FROM folded
    GROUP BY 1, 2
    HAVING sum(change) <> 0;
END
$$;

-- A write folds the changes about once in a thousand: the log stays a few thousand rows
-- long at most, with no job of its own to run.
CREATE FUNCTION relink_maybe_fold_account_counts() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF random() < 0.001 THEN
        PERFORM relink_fold_account_counts();
    END IF;
END
$$;

CREATE FUNCTION relink_count_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts (reported_health, cause, change)
    SELECT reported_health, cause, count(*) FROM inserted GROUP BY 1, 2;
    PERFORM relink_maybe_fold_account_counts();
    RETURN NULL;
END
$$;

CREATE FUNCTION relink_count_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts (reported_health, cause, change)
    SELECT reported_health, cause, -count(*) FROM deleted GROUP BY 1, 2;
    PERFORM relink_maybe_fold_account_counts();
    RETURN NULL;
END
$$;

CREATE FUNCTION relink_count_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_counts (reported_health, cause, change)
    VALUES (OLD.reported_health, OLD.cause, -1), (NEW.reported_health, NEW.cause, 1);
    PERFORM relink_maybe_fold_account_counts();
    RETURN NULL;
END
$$;

CREATE FUNCTION relink_count_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM account_counts;
    RETURN NULL;
END
$$;

-- Per statement for inserts and deletes, so that a bulk COPY appends one row per group.
CREATE TRIGGER accounts_counted_inserted AFTER INSERT ON accounts
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION relink_count_inserted();
CREATE TRIGGER accounts_counted_deleted AFTER DELETE ON accounts
    REFERENCING OLD TABLE AS deleted
    FOR EACH STATEMENT EXECUTE FUNCTION relink_count_deleted();
-- Per row, and only for a row whose group changed: most updates (a snapshot that changes
-- nothing, a sync confirmation, a lease) cost only this condition.
CREATE TRIGGER accounts_counted_moved AFTER UPDATE ON accounts
    FOR EACH ROW
    WHEN (OLD.reported_health IS DISTINCT FROM NEW.reported_health
          OR OLD.cause IS DISTINCT FROM NEW.cause)
    EXECUTE FUNCTION relink_count_moved();
CREATE TRIGGER accounts_counted_truncated AFTER TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION relink_count_truncated();

INSERT INTO account_counts (reported_health, cause, change)
SELECT reported_health, cause, count(*) FROM accounts GROUP BY 1, 2;
