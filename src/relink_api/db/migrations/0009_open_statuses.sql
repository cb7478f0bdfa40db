-- Stripe's `status` of an account or authorization is an open set: its SDK types it as the
-- known values or any string (docs/stripe.md §2). A status Stripe adds later is stored as
-- Stripe sent it, so that the webhook carrying it is applied instead of refused (and
-- redelivered for days); the API shows it as `unknown`.
ALTER TABLE accounts DROP CONSTRAINT accounts_status_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_check CHECK (status <> '');
ALTER TABLE authorizations DROP CONSTRAINT authorizations_status_check;
ALTER TABLE authorizations ADD CONSTRAINT authorizations_status_check CHECK (status <> '');

-- The same link health as before, but a status this code does not know is `unknown`, not
-- `ok`: nothing can be said of the link until the account is re-read by a version that
-- knows the status (the account is left due for sync meanwhile).
CREATE OR REPLACE FUNCTION relink_link_health(
    status text,
    action text,
    account_number_expires_at timestamptz,
    at timestamptz
) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'disconnected' THEN 'disconnected'
        -- An inactive account is repairable unless Stripe says there is nothing to do;
        -- a payload without status_details (older API version) is treated as repairable.
        WHEN status = 'inactive' AND action IS DISTINCT FROM 'none' THEN 'relink_required'
        WHEN status = 'inactive' THEN 'unrepairable'
        WHEN status IS DISTINCT FROM 'active' THEN 'unknown'
        WHEN action = 'relink_required' THEN 'expiring'
        WHEN account_number_expires_at IS NOT NULL
             AND account_number_expires_at <= at + interval '30 days' THEN 'expiring'
        ELSE 'ok'
    END
$$;
