"""Stripe webhooks: signature check, durable event log, one handler per event type."""
