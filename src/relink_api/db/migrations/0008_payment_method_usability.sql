-- Whether a payment method can be charged is Stripe's fact, read from the PaymentMethod
-- (docs/stripe.md §6), not derived from the link health of the account it draws on.

-- `us_bank_account.status_details.blocked` as last read: present or not, and its ACH
-- network code beside the reason kept since 0004. A block without a reason is still a
-- block, so presence is its own column (0004 stored the placeholder 'blocked').
ALTER TABLE payment_methods ADD COLUMN blocked boolean NOT NULL DEFAULT false;
ALTER TABLE payment_methods ADD COLUMN blocked_network_code text;
UPDATE payment_methods SET blocked = true WHERE blocked_reason IS NOT NULL;
UPDATE payment_methods SET blocked_reason = NULL WHERE blocked_reason = 'blocked';

-- When we learnt that Stripe detached it from its customer: permanent at Stripe, so never
-- cleared here.
ALTER TABLE payment_methods ADD COLUMN detached_at timestamptz;

-- Payment methods are refreshed by the FC account they draw on.
CREATE INDEX payment_methods_account_idx ON payment_methods (account_id);

-- SetupIntents superseded here (status canceled) that Stripe may still hold open: the
-- reconciliation sweep finds them by their last Stripe status and cancels them there.
CREATE INDEX setup_intents_superseded_idx ON setup_intents (created_at)
    WHERE status = 'canceled' AND stripe_status <> 'canceled';
