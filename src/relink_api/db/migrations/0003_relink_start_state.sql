-- What each of the customer's accounts on the authorization looked like when a relink
-- session began ({account id: link health}). The outcome is judged against it, because
-- Stripe's webhooks (reactivated, created) may reach us before the page completes the
-- session, and by then the stored state has already moved.
ALTER TABLE relink_sessions ADD COLUMN accounts_at_start jsonb NOT NULL DEFAULT '{}'::jsonb;
