"""What Stripe checks of every request before the endpoint: the API key (the sandbox's
secret key is the only credential its REST API takes), then the ``Stripe-Version``."""

from __future__ import annotations

import base64
import hmac

from fastapi import Request

from relink_api.sandbox import versions
from relink_api.sandbox.wire import StripeApiError
from relink_api.web.deps import SettingsDep


async def secret_key(request: Request, settings: SettingsDep) -> None:
    """``Bearer sk_…``, or HTTP Basic with the key as the user name, as Stripe takes it."""
    expected = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth.",
        )
    if not expected or not hmac.compare_digest(key.encode(), expected.encode()):
        masked = key[:8] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
        raise StripeApiError(401, f"Invalid API Key provided: {masked}")


async def known_version(request: Request) -> None:
    """A ``Stripe-Version`` Stripe has released (or previewed); none means the account's
    default. Any other is refused before the endpoint runs, as Stripe refuses it."""
    version = request.headers.get("stripe-version")
    if version and version not in versions.KNOWN:
        raise StripeApiError(400, f"Invalid Stripe API version: {version}")
