"""Offline Stripe: a Stripe-shaped REST API, a bank for the Stripe.js stand-in, controls.

Mounted only in sandbox mode (no real Stripe key). See docs/sandbox.md.
"""
