-- A webhook's account snapshot applied, and its event recorded, in one statement: called
-- outside any transaction block, the call is its own transaction, durable when it returns.
-- It takes only the cases that need none of the service's own work (a health transition's
-- outbound event and episode, a conflict or owner change to settle by reading Stripe):
--
--   'duplicate'  the event is already recorded: nothing changes;
--   'stale'      older than the stored state: the event is recorded, nothing applied;
--   'applied'    a new account whose link is ok (inserted, with its history row), or a
--                stored one whose status, action, cause, link health and owner the
--                snapshot leaves as they are (only its fields and observation time move);
--   NULL         anything else: nothing was written, and the service applies the snapshot
--                itself (accounts/state.py, whose rules for an ordered webhook notice these
--                are: tests/integration/test_webhook_at_once.py holds the two to the same
--                rows).
--
-- The stored account is locked (or a new one inserted) before anything is written, and the
-- event recorded next, in the order the service's own path takes: a concurrent delivery of
-- the same event waits, then finds it recorded. A new account that another transaction
-- inserted since the read is left to the service.
CREATE FUNCTION relink_apply_account_event(
    p_event_id text,
    p_type text,
    p_api_version text,
    p_created timestamptz,
    p_payload jsonb,
    p_account_id text,
    p_customer_id text,
    p_authorization_id text,
    p_institution_id text,
    p_institution_name text,
    p_display_name text,
    p_last4 text,
    p_category text,
    p_subcategory text,
    p_status text,
    p_action text,
    p_cause text,
    p_expected_deactivation_at timestamptz,
    p_account_number_expires_at timestamptz,
    p_permissions text[],
    p_account_holder jsonb
) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    stored record;
    is_new boolean;
    health text := relink_link_health(p_status, p_action, p_account_number_expires_at, now());
    result text := 'applied';
BEGIN
    SELECT customer_id, owner_source, status, action, cause, state_as_of, inactive_since,
           relink_link_health(status, action, account_number_expires_at, now()) AS health
      INTO stored
      FROM accounts WHERE id = p_account_id FOR UPDATE;
    is_new := NOT FOUND;
    IF is_new THEN
        IF health <> 'ok' THEN
            RETURN NULL;  -- a transition to announce
        END IF;
        -- The account before the event: the order the service's own path takes, so that
        -- the two never wait on each other.
        INSERT INTO accounts (
            id, customer_id, owner_source, authorization_id, institution_id, institution_name,
            display_name, last4, category, subcategory, status, action, cause,
            expected_deactivation_at, account_number_expires_at, permissions, account_holder,
            snapshot, state_as_of)
        VALUES (
            p_account_id, p_customer_id, 'account_holder', p_authorization_id, p_institution_id,
            p_institution_name, p_display_name, p_last4, p_category, p_subcategory, p_status,
            p_action, p_cause, p_expected_deactivation_at, p_account_number_expires_at,
            p_permissions, p_account_holder, p_payload -> 'data' -> 'object', p_created)
        ON CONFLICT (id) DO NOTHING;
        IF NOT FOUND THEN
            RETURN NULL;  -- inserted by another transaction since the read
        END IF;
    ELSIF p_created < stored.state_as_of THEN
        result := 'stale';
    ELSIF (stored.status, stored.action, stored.cause, stored.health)
              IS DISTINCT FROM (p_status, p_action, p_cause, health)
          -- Moving the account to another customer needs Stripe's own copy.
          OR (stored.customer_id IS NULL AND p_customer_id IS NOT NULL)
          OR (stored.owner_source = 'account_holder' AND p_customer_id IS NOT NULL
              AND p_customer_id <> stored.customer_id) THEN
        RETURN NULL;
    END IF;

    INSERT INTO webhook_events
        (id, type, object_id, api_version, created, payload, result, processed_at)
    VALUES (p_event_id, p_type, p_account_id, p_api_version, p_created, p_payload, result, now())
    ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        IF is_new THEN
            DELETE FROM accounts WHERE id = p_account_id;  -- what this delivery inserted
        END IF;
        RETURN 'duplicate';
    END IF;

    IF is_new THEN
        INSERT INTO account_status_history (
            account_id, from_status, to_status, from_health, to_health, action, cause,
            source, event_id)
        VALUES (p_account_id, NULL, p_status, NULL, health, p_action, p_cause, 'webhook',
                p_event_id);
    ELSIF result = 'applied' THEN
        UPDATE accounts SET
            authorization_id = p_authorization_id, institution_id = p_institution_id,
            institution_name = p_institution_name, display_name = p_display_name,
            last4 = p_last4, category = p_category, subcategory = p_subcategory,
            status = p_status, action = p_action, cause = p_cause,
            expected_deactivation_at = p_expected_deactivation_at,
            account_number_expires_at = p_account_number_expires_at,
            permissions = p_permissions, account_holder = p_account_holder,
            snapshot = p_payload -> 'data' -> 'object',
            state_as_of = p_created,
            -- The first deactivation time survives redelivery and later events of the outage.
            inactive_since = CASE WHEN p_status = 'inactive'
                                  THEN COALESCE(stored.inactive_since, p_created) END,
            updated_at = now()
        WHERE id = p_account_id;
    END IF;
    RETURN result;
END
$$;
