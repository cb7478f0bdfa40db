"""The sandbox's Stripe REST API: the calls relink-api makes, in Stripe's wire format.

One module per resource (``sessions``, ``accounts``, ``setup_intents``, ``payment_methods``,
and ``unknown`` for every other URL), and the HTTP helpers they share: ``auth`` (the secret
key, then the API version), ``params`` (Stripe's parameters), ``idempotency`` (Stripe's
``Idempotency-Key`` replay) and ``responses`` (rendered at the request's API version). What
the objects do lives beside the world, not here.
"""
