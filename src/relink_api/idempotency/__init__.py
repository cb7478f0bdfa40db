"""Idempotency keys for the POSTs that create something."""
