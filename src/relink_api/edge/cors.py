"""CORS for single-page apps on other origins: an exact-origin allowlist, never ``*``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from relink_api.redirects import InvalidAllowlistEntry, normalize_allowlist_entry

# What the API's routes take and what a client must be able to read back.
ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id")
EXPOSED_HEADERS = ("Retry-After", "Idempotent-Replayed", "X-Request-Id", "Location")
# Browsers cap this themselves (Chromium at 2 hours); 10 minutes lets a changed allowlist
# take effect soon.
PREFLIGHT_MAX_AGE_SECONDS = 600


class InvalidOrigin(ValueError):
    pass


def normalize_origins(texts: list[str]) -> list[str]:
    """``https://app.example.com``, ``http://localhost:5173`` as exact origins."""
    origins: list[str] = []
    for text in texts:
        if text == "*" or "*" in text:
            raise InvalidOrigin(
                "wildcards are not allowed; list each origin, such as https://app.example.com."
            )
        try:
            origin = normalize_allowlist_entry(text)
        except InvalidAllowlistEntry:
            origin = ""
        if not origin.startswith(("http://", "https://")):
            raise InvalidOrigin(
                f"{text!r} is not an origin; give scheme, host and optional port only, "
                "such as https://app.example.com."
            )
        origins.append(origin)
    return origins


def add_cors(app: FastAPI, origins: list[str]) -> None:
    """Let pages on ``origins`` call the API with a bearer token; no origins, no CORS.

    Credentials (cookies) stay off: the API authenticates with a bearer token the page
    sends itself, so no ambient authority crosses origins.
    """
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
