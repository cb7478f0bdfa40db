"""Bearer tokens from the host application → the Stripe customer a request acts for."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import jwt

from relink_api.errors import Unauthorized
from relink_api.settings import Settings

HMAC_ALGORITHMS = ["HS256"]
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
_MAX_CUSTOMER_ID_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the Stripe customer whose accounts this request may touch."""

    customer_id: str
    subject: str | None = None


class Authenticator:
    """Verifies HS256 tokens with a shared secret, or RS256/ES256 tokens against a JWKS."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        if settings.auth_jwks_url is not None:
            # PyJWKClient caches the key set and refetches on an unknown `kid`.
            self._jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, timeout=5)

    @property
    def configured(self) -> bool:
        return self._settings.auth_configured

    async def authenticate(self, authorization_header: str | None) -> Principal:
        if not self.configured:
            raise Unauthorized(
                "This server has no token verification configured "
                "(RELINK_AUTH_JWT_SECRET or RELINK_AUTH_JWKS_URL).",
                error="invalid_request",
            )
        if not authorization_header:
            raise Unauthorized("An Authorization: Bearer token is required.", error=None)
        scheme, _, token = authorization_header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(
                "The Authorization header must be `Bearer <token>`.", error="invalid_request"
            )
        claims = await self._decode(token)
        customer = claims.get(self._settings.auth_customer_claim)
        if not isinstance(customer, str) or not customer or len(customer) > _MAX_CUSTOMER_ID_LENGTH:
            raise Unauthorized(
                f"The token has no `{self._settings.auth_customer_claim}` claim naming a customer."
            )
        subject = claims.get("sub")
        return Principal(
            customer_id=customer, subject=subject if isinstance(subject, str) else None
        )

    async def _decode(self, token: str) -> dict[str, Any]:
        settings = self._settings
        try:
            if self._jwks is not None:
                # PyJWKClient fetches with urllib (blocking); keep it off the event loop.
                signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
                key: Any = signing_key.key
                algorithms = ASYMMETRIC_ALGORITHMS
            else:
                assert settings.auth_jwt_secret is not None
                key = settings.auth_jwt_secret.get_secret_value()
                algorithms = HMAC_ALGORITHMS
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=settings.auth_audience,
                issuer=settings.auth_issuer,
                leeway=settings.auth_leeway_seconds,
                options={
                    "require": ["exp"],
                    "verify_aud": settings.auth_audience is not None,
                    "verify_iss": settings.auth_issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.") from exc
        except jwt.PyJWKClientConnectionError as exc:
            raise Unauthorized("The token's signing keys could not be fetched.") from exc
        except jwt.PyJWTError as exc:
            # One message for every other failure: do not help an attacker tune a forgery.
            raise Unauthorized("The token is not valid.") from exc
        return claims


def mint_token(settings: Settings, customer_id: str, *, ttl_seconds: int = 3600) -> str:
    """A short-lived HS256 token for ``customer_id`` (development and tests)."""
    if settings.auth_jwt_secret is None:
        raise ValueError("Minting tokens needs RELINK_AUTH_JWT_SECRET (a shared secret).")
    now = int(time.time())
    claims: dict[str, Any] = {
        settings.auth_customer_claim: customer_id,
        "sub": customer_id,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.auth_issuer is not None:
        claims["iss"] = settings.auth_issuer
    if settings.auth_audience is not None:
        claims["aud"] = settings.auth_audience
    return jwt.encode(claims, settings.auth_jwt_secret.get_secret_value(), algorithm="HS256")
