-- A new relink session stored, and the account's open break episode told that its customer
-- started a relink, in one statement: called outside any transaction block, the call is its
-- own transaction, durable when it returns, as the transaction of an INSERT and an UPDATE it
-- replaces was (four round trips with BEGIN and COMMIT, on the path the customer waits on).
-- The session is inserted first and the episode updated after, in the order that
-- transaction took, so a concurrent writer meets the same locks in the same order. The
-- episode's relink_started_at is the session's created_at: only the first relink started
-- during an episode counts. An emailed relink (p_started false) is a prompt, a reminder's
-- or an operator's, not the customer starting one, and leaves the episode alone.
CREATE FUNCTION relink_session_created(
    p_id text,
    p_stripe_session_id text,
    p_customer_id text,
    p_scope text,
    p_authorization_id text,
    p_account_id text,
    p_ui_mode text,
    p_permissions text[],
    p_return_url text,
    p_accounts_at_start jsonb,
    p_delivery text,
    p_return_token_sha256 text,
    p_started boolean
) RETURNS relink_sessions
LANGUAGE plpgsql AS $$
DECLARE
    created relink_sessions;
BEGIN
    INSERT INTO relink_sessions (
        id, stripe_session_id, customer_id, scope, authorization_id, account_id, ui_mode,
        permissions, return_url, accounts_at_start, delivery, return_token_sha256)
    VALUES (
        p_id, p_stripe_session_id, p_customer_id, p_scope, p_authorization_id, p_account_id,
        p_ui_mode, p_permissions, p_return_url, p_accounts_at_start, p_delivery,
        p_return_token_sha256)
    RETURNING * INTO created;
    IF p_started THEN
        UPDATE link_breaks SET relink_started_at = created.created_at
        WHERE account_id = p_account_id AND closed_at IS NULL AND relink_started_at IS NULL;
    END IF;
    RETURN created;
END
$$;
