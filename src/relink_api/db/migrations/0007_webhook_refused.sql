-- A validly signed event of the other Stripe mode (livemode) is kept in the log but not
-- applied: its result is `refused`.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_result_check;
ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_result_check
    CHECK (result IN ('applied', 'stale', 'ignored', 'refused'));
