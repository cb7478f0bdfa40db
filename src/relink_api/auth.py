"""Bearer tokens from the host application → the Stripe customer a request acts for;
admin API keys → an operator of the whole service."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from relink_api.errors import AdminUnauthorized, Unauthorized
from relink_api.settings import Settings

HMAC_ALGORITHMS = ["HS256"]
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]
_MAX_CUSTOMER_ID_LENGTH = 255
# Tokens verified recently, and for how long at most one is trusted without verifying it
# again (never past its `exp`): see VerifiedTokens.
VERIFIED_TOKENS_KEPT = 1024
VERIFIED_TOKEN_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the Stripe customer whose accounts this request may touch."""

    customer_id: str
    subject: str | None = None


class VerifiedTokens:
    """Tokens that verified, by the SHA-256 of their whole text, each with the caller it
    names and the moment it stops being trusted: the earlier of its ``exp`` (with the same
    leeway the verification allows) and ``VERIFIED_TOKEN_SECONDS`` after it was verified.

    A host application's page sends one token with every call until it expires, and
    verifying it (base64, JSON, the signature, the claims) costs more than everything
    else a small request resolves. Safe because only a token that passed every check is
    kept and a hit gives back exactly the caller that check produced; any other token
    (one byte of its signature changed) has another digest and is verified in full; no
    entry outlives the token's expiry; and a signing key withdrawn from a JWKS stops
    counting within a minute, sooner than the JWKS client's own five-minute key cache.
    At most ``VERIFIED_TOKENS_KEPT`` entries, the least recently used evicted first.
    """

    def __init__(self, *, kept: int = VERIFIED_TOKENS_KEPT) -> None:
        self._kept = kept
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, digest: bytes, now: float) -> Principal | None:
        """The caller a token verified as, while it is still trusted."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        until, principal = entry
        if now >= until:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return principal

    def keep(self, digest: bytes, principal: Principal, until: float) -> None:
        """Trust the token until ``until`` (a wall-clock time)."""
        self._entries[digest] = (until, principal)
        self._entries.move_to_end(digest)
        if len(self._entries) > self._kept:
            self._entries.popitem(last=False)


class Authenticator:
    """Verifies HS256 tokens with a shared secret, or RS256/ES256 tokens against a JWKS."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._verified = VerifiedTokens()
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
        digest = hashlib.sha256(token.encode()).digest()
        now = time.time()
        principal = self._verified.get(digest, now)
        if principal is None:
            claims = await self._decode(token)
            principal = self._principal(claims)
            # `exp` is required, and read as the decode read it.
            expires = int(claims["exp"]) + self._settings.auth_leeway_seconds
            self._verified.keep(digest, principal, min(expires, now + VERIFIED_TOKEN_SECONDS))
        return principal

    def _principal(self, claims: dict[str, Any]) -> Principal:
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


ADMIN_KEY_HEADER = "X-Admin-Key"
ADMIN_KEY_PREFIX = "rk_admin_"
ADMIN_KEY_DIGEST_ENV = "RELINK_ADMIN_API_KEY_SHA256"


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator let in by an admin API key; ``key_id`` tells rotated keys apart in logs
    (a digest prefix: it identifies the key without revealing it)."""

    key_id: str


def generate_admin_key() -> str:
    """A new admin key: 256 random bits, URL-safe."""
    return ADMIN_KEY_PREFIX + secrets.token_urlsafe(32)


def admin_key_digest(key: str) -> str:
    """What RELINK_ADMIN_API_KEY_SHA256 holds for ``key``.

    A bare SHA-256, not a password KDF, on purpose: the keys are 256 random bits we
    generate, so no dictionary or brute force can invert the digest, and a slow hash would
    only add latency (and a denial-of-service lever) to every operator request.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def authenticate_admin(
    settings: Settings, *, key: str | None, authorization_header: str | None
) -> Operator:
    """The operator behind ``key`` (the X-Admin-Key header), or ``AdminUnauthorized``."""
    digests = settings.admin_api_key_digests
    if not digests:
        raise AdminUnauthorized(
            f"The operator API is not configured on this server ({ADMIN_KEY_DIGEST_ENV})."
        )
    if not key:
        if authorization_header:
            # A customer's bearer token (or an admin key sent as one) opens no admin route.
            raise AdminUnauthorized(
                f"No admin API key was sent: admin routes take it in the {ADMIN_KEY_HEADER} "
                "header, and an Authorization header does not count."
            )
        raise AdminUnauthorized(f"No admin API key was sent in the {ADMIN_KEY_HEADER} header.")
    presented = hashlib.sha256(key.encode()).digest()
    matched: str | None = None
    # Every configured digest is compared, in constant time, whichever matches: the time
    # taken says nothing about which key (or how much of one) was right.
    for digest in digests:
        if hmac.compare_digest(presented, bytes.fromhex(digest)):
            matched = digest
    if matched is None:
        raise AdminUnauthorized("The admin API key is not valid.")
    return Operator(key_id=matched[:8])
