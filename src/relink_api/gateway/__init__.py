"""Stripe: the only package that talks to it (``client``), what it sends (``requests``),
what it reads back (``objects``) and how its failures become problems (``errors``)."""
