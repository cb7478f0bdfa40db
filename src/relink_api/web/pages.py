"""The headers every HTML page this server serves carries (the relink page, the hosted
relink's return page): a strict Content-Security-Policy and no caching of a stale page."""

from __future__ import annotations

# Only this origin and Stripe.js; no inline script, no third-party anything.
_CSP = (
    "default-src 'self'; script-src 'self' https://js.stripe.com; "
    "frame-src https://js.stripe.com https://*.stripe.com; "
    "connect-src 'self' https://api.stripe.com; img-src 'self' data:; style-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
