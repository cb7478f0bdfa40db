-- Events for the host application (the outbound feature): the endpoints it registered,
-- a durable outbox written in the transaction of the state change that causes each event,
-- one delivery per event and endpoint (the queue the workers claim), and every attempt.

CREATE TABLE webhook_endpoints (
    id                  text PRIMARY KEY CHECK (id <> ''),
    url                 text NOT NULL,
    description         text,
    -- The event types it receives; never empty (an endpoint for nothing is refused).
    event_types         text[] NOT NULL CHECK (cardinality(event_types) > 0),
    -- The Standard Webhooks signing secret (whsec_…): needed to sign, shown once.
    secret              text NOT NULL,
    -- After a rotation the old secret keeps signing beside the new one until it expires,
    -- so receivers can switch without dropping deliveries.
    previous_secret     text,
    previous_secret_expires_at timestamptz,
    status              text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    -- 'operator' or 'failing' (deliveries failed for longer than the setting allows).
    disabled_reason     text CHECK (disabled_reason IN ('operator', 'failing')),
    disabled_at         timestamptz,
    -- The first failed attempt since the last success: how long it has been failing.
    failing_since       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE outbound_events (
    id           text PRIMARY KEY CHECK (id <> ''),
    type         text NOT NULL,
    account_id   text,
    customer_id  text,
    -- The event exactly as delivered (the signed body is this, serialized once).
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX outbound_events_account_idx ON outbound_events (account_id, created_at);
CREATE INDEX outbound_events_created_idx ON outbound_events (created_at);

CREATE TABLE outbound_deliveries (
    id               text PRIMARY KEY CHECK (id <> ''),
    event_id         text NOT NULL REFERENCES outbound_events (id) ON DELETE CASCADE,
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- pending: due at next_attempt_at; delivered; failed: retries exhausted or the
    -- endpoint was disabled while it waited.
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    -- When a pending delivery is due. A worker that claims it pushes this past its send
    -- timeout (a lease): a worker that dies mid-send leaves it due again afterwards.
    next_attempt_at  timestamptz,
    -- The first attempt since it was queued or redelivered: retries stop
    -- RELINK_OUTBOUND_RETRY_HOURS after it.
    retrying_since   timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, endpoint_id)
);
-- What the workers claim (FOR UPDATE SKIP LOCKED), oldest due first.
CREATE INDEX outbound_deliveries_due_idx ON outbound_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX outbound_deliveries_endpoint_idx ON outbound_deliveries (endpoint_id, created_at);

CREATE TABLE outbound_attempts (
    id               bigserial PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES outbound_deliveries (id) ON DELETE CASCADE,
    attempted_at     timestamptz NOT NULL,
    -- The receiver's HTTP status, or NULL when no answer came (error says why).
    response_status  integer,
    error            text,
    duration_ms      integer NOT NULL
);
CREATE INDEX outbound_attempts_delivery_idx ON outbound_attempts (delivery_id, attempted_at);
