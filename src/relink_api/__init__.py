"""relink-api: keeps Stripe Financial Connections bank links alive."""

__version__ = "0.1.0"
