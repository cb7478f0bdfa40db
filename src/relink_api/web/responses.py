"""OpenAPI ``responses=`` fragments: the problems and headers an operation documents."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from relink_api.idempotency.errors import IdempotencyKeyInvalid
from relink_api.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE, PROBLEM_TYPES_DOC

# One example per status an operation documents: the problem a client meets most often.
_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: (
        "invalid-cursor",
        "The cursor is not valid",
        "Pass the `next_cursor` of a previous page unchanged.",
    ),
    401: ("unauthorized", "Unauthorized", "An Authorization: Bearer token is required."),
    404: ("not-found", "Not found", "No account fca_123 for this customer."),
    409: (
        "account-healthy",
        "This account needs no relink",
        "fca_123 is healthy: there is nothing to repair.",
    ),
    413: (
        "payload-too-large",
        "The body is too large",
        "Bodies sent to this route are limited to 16384 bytes.",
    ),
    422: (
        "validation-failed",
        "The request is not valid",
        "One or more fields are missing or invalid; see errors.",
    ),
    429: (
        "rate-limited",
        "Too many requests",
        "Too many requests that call Stripe for this customer; retry in 3 seconds.",
    ),
    500: (
        "internal-error",
        "Internal server error",
        "The server failed to handle this request; it has been logged.",
    ),
    501: (
        "not-configured",
        "This server is not configured for that",
        "Hosted relinks need RELINK_PUBLIC_BASE_URL.",
    ),
    502: (
        "stripe-error",
        "Stripe returned an error",
        "Stripe returned an error after retrying; retry shortly.",
    ),
    503: (
        "database-unavailable",
        "The database is unavailable",
        "The database cannot be reached; nothing was changed. Retry shortly.",
    ),
}

# Every Retry-After this service sends is whole seconds, at least 1.
_SECONDS = {"type": "string", "pattern": "^[1-9][0-9]*$"}
# Every 429, 502 and 503 carries one (problem_response makes sure of it for 502 and 503).
_RETRY_AFTER = {
    429: "Whole seconds until the next request will be let in.",
    502: "Whole seconds to wait before retrying.",
    503: "Whole seconds to wait before retrying.",
}
# On an idempotent create, only `idempotency-key-in-use` sends it.
_RETRY_AFTER_IN_USE = {
    "Retry-After": {
        "description": "With `idempotency-key-in-use`: whole seconds left on the first "
        "request's claim; retry the same request with the same key after them.",
        "schema": _SECONDS,
    }
}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "The authentication scheme the route expects, and why it failed.",
        "schema": {"type": "string"},
    }
}


# The 400 a create with an Idempotency-Key header can answer.
_IDEMPOTENCY_PROBLEM_EXAMPLES: dict[int, tuple[str, str, str]] = {
    400: (
        IdempotencyKeyInvalid.slug,
        IdempotencyKeyInvalid.title,
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
    ),
}
# Response headers of the idempotent creates (documented on their 201).
CREATED_HEADERS = {
    "Idempotent-Replayed": {
        "description": "`true` when this repeats the result of an earlier request with the "
        "same Idempotency-Key (nothing new was created); absent otherwise.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "`no-store`: the body describes a customer's bank link (and may carry "
        "a client secret).",
        "schema": {"type": "string"},
    },
}


def link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: an operation a client can call next, its path parameters taken
    from this response by runtime expressions (``$response.body#/id``)."""
    return {"operationId": operation_id, "parameters": parameters, "description": description}


def body_link(operation_id: str, description: str, **fields: str) -> dict[str, Any]:
    """An OpenAPI link that fills the next operation's request body from this response."""
    return {"operationId": operation_id, "requestBody": fields, "description": description}


def links(descriptions: Mapping[str, str], **parameters: str) -> dict[str, dict[str, Any]]:
    """OpenAPI links to operations (id: description) that take the same ``parameters``, each
    named after the operation it calls (``getRelinkSession``: ``GetRelinkSession``)."""
    return {
        operation_id[0].upper() + operation_id[1:]: link(operation_id, description, **parameters)
        for operation_id, description in descriptions.items()
    }


def create_responses(
    links: Mapping[str, Any],
    *statuses: int,
    examples: Mapping[int, tuple[str, str, str]] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The responses of an idempotent create: its 201 (headers, and what a client can call
    next) and the problems it can answer, its ``Idempotency-Key``'s among them."""
    return {
        201: {"headers": CREATED_HEADERS, "links": dict(links)},
        **problem_responses(*statuses, examples=examples, idempotent=True),
    }


def problem_responses(
    *statuses: int,
    examples: Mapping[int, tuple[str, str, str]] | None = None,
    idempotent: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses a route can return.

    Only ``application/problem+json``: the handlers never render an error as plain JSON.
    ``examples`` replaces the default example of a status with (slug, title, detail).
    ``idempotent``: the route takes an ``Idempotency-Key`` (its 400 and 409 problems).
    """
    if idempotent and not {400, 409} <= set(statuses):
        raise ValueError("an idempotent create answers 400 and 409 problems")
    chosen = {**_PROBLEM_EXAMPLES, **(_IDEMPOTENCY_PROBLEM_EXAMPLES if idempotent else {})}
    chosen.update(examples or {})
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        slug, title, detail = chosen[status]
        example = {
            "type": PROBLEM_TYPE_BASE + slug,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": "/v1/…",
        }
        entry: dict[str, Any] = {
            "description": f"{HTTPStatus(status).phrase} (problem types: {PROBLEM_TYPES_DOC})",
            "content": {
                PROBLEM_MEDIA_TYPE: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            },
        }
        if status == 401:
            entry["headers"] = _CHALLENGE
        elif status in _RETRY_AFTER:
            entry["headers"] = {
                "Retry-After": {
                    "description": _RETRY_AFTER[status],
                    "required": True,
                    "schema": _SECONDS,
                }
            }
        elif status == 409 and idempotent:
            entry["headers"] = _RETRY_AFTER_IN_USE
        responses[status] = entry
    return responses
