-- webhook_events_object_idx (0001) served no query: the service finds an event by its id
-- (the primary key) and prunes by received_at, and nothing reads events by the object they
-- are about. Each delivery still paid for its entry, on the path Stripe waits on. An
-- operator looking up an account's events does so rarely enough to scan.
DROP INDEX webhook_events_object_idx;
