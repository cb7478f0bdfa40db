-- Hosted relink (mobile and email) and the payment methods a newly linked account needs.

-- `return_url` keeps what the client asked for (a webview return, or where a hosted flow
-- should end); hosted sessions send Stripe to our own /relink/return, which proves it is
-- the URL we issued with a token kept only as a hash.
ALTER TABLE relink_sessions ADD COLUMN delivery text CHECK (delivery IN ('url', 'email'));
ALTER TABLE relink_sessions ADD COLUMN return_token_sha256 text;
ALTER TABLE relink_sessions ADD CHECK ((ui_mode = 'hosted') = (delivery IS NOT NULL));

-- The relink that linked an account in place of another: where its payment method is set
-- up, so a client that reloads can still offer it.
ALTER TABLE accounts ADD COLUMN replacement_relink_session_id text REFERENCES relink_sessions (id);

-- One row per SetupIntent relink-api created for a newly linked account. Never its
-- client_secret. `replaces_payment_method_id`: the newest payment method made from the
-- account the relink was started for, found when the SetupIntent was created.
CREATE TABLE setup_intents (
    id                          text PRIMARY KEY CHECK (id <> ''),
    relink_session_id           text NOT NULL REFERENCES relink_sessions (id),
    customer_id                 text NOT NULL,
    account_id                  text NOT NULL REFERENCES accounts (id),
    replaces_payment_method_id  text,
    -- Our reading of Stripe's status: pending until it succeeds, fails or is canceled.
    status                      text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    stripe_status               text NOT NULL,
    payment_method_id           text,
    failure_code                text,
    failure_message             text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
-- At most one pending SetupIntent per relink session: a retried request reuses it. (An old
-- one may still succeed later, confirmed with its own secret; that is recorded too.)
CREATE UNIQUE INDEX setup_intents_one_pending_idx ON setup_intents (relink_session_id)
    WHERE status = 'pending';
CREATE INDEX setup_intents_customer_idx ON setup_intents (customer_id, created_at);

CREATE TABLE payment_methods (
    id                          text PRIMARY KEY CHECK (id <> ''),
    customer_id                 text NOT NULL,
    account_id                  text NOT NULL REFERENCES accounts (id),
    setup_intent_id             text NOT NULL UNIQUE REFERENCES setup_intents (id),
    relink_session_id           text NOT NULL REFERENCES relink_sessions (id),
    replaces_payment_method_id  text,
    bank_name                   text,
    last4                       text,
    account_type                text,
    -- Stripe's us_bank_account.status_details.blocked.reason at the last read.
    blocked_reason              text,
    snapshot                    jsonb NOT NULL,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_customer_idx ON payment_methods (customer_id, id);
