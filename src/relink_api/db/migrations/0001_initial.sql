-- The first schema: linked accounts, their authorizations and history, relink sessions,
-- the webhook event log and idempotency keys. Forward-only: later changes get new files.

-- Link health is derived, never stored, because "expiring" depends on the clock (a
-- tokenized account number within 30 days of expiry). One definition, used by every query.
CREATE FUNCTION relink_link_health(
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
        WHEN action = 'relink_required' THEN 'expiring'
        WHEN account_number_expires_at IS NOT NULL
             AND account_number_expires_at <= at + interval '30 days' THEN 'expiring'
        ELSE 'ok'
    END
$$;

CREATE TABLE authorizations (
    id                        text PRIMARY KEY CHECK (id <> ''),
    customer_id               text,
    institution_id            text,
    institution_name          text,
    status                    text NOT NULL CHECK (status IN ('active', 'inactive', 'disconnected')),
    action                    text,
    expected_deactivation_at  timestamptz,
    snapshot                  jsonb,
    state_as_of               timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX authorizations_customer_idx ON authorizations (customer_id);

CREATE TABLE accounts (
    id                         text PRIMARY KEY CHECK (id <> ''),
    -- The owner: account_holder.customer, or the customer an operator assigned to an
    -- account Stripe holds without an account holder. NULL: nobody can see it yet.
    customer_id                text,
    owner_source               text NOT NULL CHECK (owner_source IN ('account_holder', 'operator', 'relink')),
    authorization_id           text,
    institution_id             text,
    institution_name           text,
    display_name               text,
    last4                      text,
    category                   text,
    subcategory                text,
    status                     text NOT NULL CHECK (status IN ('active', 'inactive', 'disconnected')),
    action                     text,
    cause                      text,
    expected_deactivation_at   timestamptz,
    account_number_expires_at  timestamptz,
    permissions                text[] NOT NULL DEFAULT '{}',
    account_holder             jsonb,
    snapshot                   jsonb NOT NULL,
    -- The Stripe time the stored state describes: an event's `created`, or the second of a
    -- read. Older events are logged but not applied.
    state_as_of                timestamptz NOT NULL,
    -- Kept across redeliveries and later events of the same outage.
    inactive_since             timestamptz,
    -- Linked in a relink in place of a known account: payment methods made from the old
    -- account are not moved over, so a new one must be set up.
    needs_payment_method       boolean NOT NULL DEFAULT false,
    replaces_account_id        text REFERENCES accounts (id),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_customer_idx ON accounts (customer_id, id);
CREATE INDEX accounts_authorization_idx ON accounts (authorization_id);

CREATE TABLE account_status_history (
    id                 bigserial PRIMARY KEY,
    account_id         text NOT NULL REFERENCES accounts (id),
    from_status        text,
    to_status          text NOT NULL,
    from_health        text,
    to_health          text NOT NULL,
    action             text,
    cause              text,
    source             text NOT NULL CHECK (source IN ('webhook', 'relink', 'sync', 'refresh', 'import')),
    event_id           text,
    relink_session_id  text,
    at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_status_history_account_idx ON account_status_history (account_id, id);

-- Never the client_secret: it is handed to the browser once and forgotten.
CREATE TABLE relink_sessions (
    id                       text PRIMARY KEY,
    stripe_session_id        text NOT NULL UNIQUE,
    customer_id              text NOT NULL,
    scope                    text NOT NULL CHECK (scope IN ('account', 'institution')),
    authorization_id         text NOT NULL,
    account_id               text NOT NULL REFERENCES accounts (id),
    ui_mode                  text NOT NULL DEFAULT 'modal',
    permissions              text[] NOT NULL,
    return_url               text,
    status                   text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
    outcome                  text CHECK (outcome IN ('relinked', 'new_account', 'failed', 'cancelled')),
    failure_reason           text,
    next_step                text,
    linked_account_ids       text[] NOT NULL DEFAULT '{}',
    reactivated_account_ids  text[] NOT NULL DEFAULT '{}',
    stripe_status            text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    completed_at             timestamptz,
    CHECK ((status = 'completed') = (outcome IS NOT NULL))
);
CREATE INDEX relink_sessions_customer_idx ON relink_sessions (customer_id, created_at);

CREATE TABLE webhook_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    object_id     text,
    api_version   text,
    created       timestamptz NOT NULL,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    result        text
);
CREATE INDEX webhook_events_received_idx ON webhook_events (received_at);
CREATE INDEX webhook_events_object_idx ON webhook_events (object_id);

-- Responses that hold a client_secret are never stored: the fingerprint and the ids of
-- what was created are, and a replay rebuilds the response from Stripe.
CREATE TABLE idempotency_keys (
    principal     text NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method        text NOT NULL,
    path          text NOT NULL,
    fingerprint   text NOT NULL,
    resource_ids  jsonb,
    status_code   integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
