-- Prompting customers (the prompts feature): one episode per account whose link broke or is
-- expiring, from the transition that opened it to the one that closed it, and every prompt
-- (an outbound event, perhaps with a Stripe-emailed relink) sent during it. The operator
-- summary's funnel is counted from these rows.

CREATE TABLE link_breaks (
    id                bigserial PRIMARY KEY,
    account_id        text NOT NULL CHECK (account_id <> ''),
    customer_id       text,
    -- 'expiring' until the link breaks; an expiring episode that breaks becomes 'broken'.
    kind              text NOT NULL CHECK (kind IN ('broken', 'expiring')),
    -- The account's cause when the episode opened (or, for a break, when it broke).
    cause             text,
    opened_at         timestamptz NOT NULL,
    -- When the link stopped working (the account's inactive_since): the funnel's week.
    broken_at         timestamptz,
    -- When an expiring link is expected to stop working (its reminders count back from it).
    expected_at       timestamptz,
    -- Reminders due at or before this moment have been sent (or covered by the transition
    -- event, which is the first prompt): a missed reminder is sent once, late, never twice.
    covered_through   timestamptz NOT NULL,
    -- When the reminder loop next looks at the episode; NULL: no reminder is left.
    next_reminder_at  timestamptz,
    -- Whether the loop has planned the schedule since the transition (and emailed the
    -- transition's prompt, when reminder emails are on).
    planned           boolean NOT NULL DEFAULT false,
    -- The first relink session a customer started for the account during the episode.
    relink_started_at timestamptz,
    closed_at         timestamptz,
    closed_reason     text CHECK (
        closed_reason IN ('relinked', 'new_account', 'recovered', 'unrepairable', 'disconnected')
    ),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((closed_at IS NULL) = (closed_reason IS NULL)),
    CHECK ((kind = 'broken') = (broken_at IS NOT NULL))
);
-- At most one open episode per account.
CREATE UNIQUE INDEX link_breaks_open_idx ON link_breaks (account_id) WHERE closed_at IS NULL;
-- What the reminder loop claims (FOR UPDATE SKIP LOCKED), earliest due first.
CREATE INDEX link_breaks_due_idx ON link_breaks (next_reminder_at)
    WHERE closed_at IS NULL AND next_reminder_at IS NOT NULL;
-- The funnel reads breaks by week.
CREATE INDEX link_breaks_broken_idx ON link_breaks (broken_at) WHERE broken_at IS NOT NULL;

CREATE TABLE link_break_prompts (
    id                bigserial PRIMARY KEY,
    break_id          bigint NOT NULL REFERENCES link_breaks (id) ON DELETE CASCADE,
    -- The outbound event (outbound_events.id): the funnel asks the outbox if it was delivered.
    event_id          text NOT NULL UNIQUE,
    schedule          text NOT NULL CHECK (schedule IN ('broken', 'expiring')),
    -- The reminder's place in its schedule; NULL for the transition event itself.
    number            integer CHECK (number > 0),
    of                integer CHECK (of > 0),
    sent_at           timestamptz NOT NULL,
    -- NULL: no email asked; pending: claimed by a loop that is sending it; sent; failed.
    email             text CHECK (email IN ('pending', 'sent', 'failed')),
    email_error       text,
    -- The hosted relink session Stripe emailed.
    relink_session_id text
);
CREATE INDEX link_break_prompts_break_idx ON link_break_prompts (break_id, sent_at);
