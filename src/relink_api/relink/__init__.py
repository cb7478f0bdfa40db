"""Relink sessions: create them, then verify with Stripe what the customer did."""
