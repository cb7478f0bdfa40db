-- Several webhook account events applied by one statement, in one transaction: one round
-- trip and one commit (one WAL flush) for deliveries that arrived together, instead of one
-- each. Called outside any transaction block, the call is its own transaction, durable when
-- it returns; nothing of it stays if any element fails.
--
-- Each element is exactly the arguments of relink_apply_account_event (migration 0015),
-- which applies it: the rules stay in one place. The caller sorts the elements by account
-- id, keeping arrival order within an account, so a batch locks accounts in the order every
-- writer of several accounts takes (accounts/state.py's apply_all). The JSON documents
-- travel as text (asyncpg sends a composite only in binary, and its jsonb codec is text).
CREATE TYPE relink_account_event AS (
    event_id text,
    type text,
    api_version text,
    created timestamptz,
    payload text,
    account_id text,
    customer_id text,
    authorization_id text,
    institution_id text,
    institution_name text,
    display_name text,
    last4 text,
    category text,
    subcategory text,
    status text,
    action text,
    cause text,
    expected_deactivation_at timestamptz,
    account_number_expires_at timestamptz,
    permissions text[],
    account_holder text
);

-- Each element's result, in the elements' order: 'applied', 'stale', 'duplicate', or NULL
-- (nothing written: the service applies that event itself once the batch has committed).
-- After a NULL, the account's later elements are NULL too, so that none of them is applied
-- ahead of an earlier event of the same account.
CREATE FUNCTION relink_apply_account_events(p_events relink_account_event[]) RETURNS text[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    e relink_account_event;
    declined text[] := '{}';
    results text[] := '{}';
    result text;
BEGIN
    FOREACH e IN ARRAY p_events LOOP
        result := NULL;
        IF NOT e.account_id = ANY (declined) THEN
            result := relink_apply_account_event(
                e.event_id, e.type, e.api_version, e.created, e.payload::jsonb, e.account_id,
                e.customer_id, e.authorization_id, e.institution_id, e.institution_name,
                e.display_name, e.last4, e.category, e.subcategory, e.status, e.action,
                e.cause, e.expected_deactivation_at, e.account_number_expires_at,
                e.permissions, e.account_holder::jsonb);
            IF result IS NULL THEN
                declined := array_append(declined, e.account_id);
            END IF;
        END IF;
        results := array_append(results, result);
    END LOOP;
    RETURN results;
END
$$;
