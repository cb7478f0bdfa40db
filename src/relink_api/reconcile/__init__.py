"""Reconciliation: re-read accounts from Stripe to catch what webhooks missed."""
