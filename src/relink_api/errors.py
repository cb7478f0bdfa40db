"""The problem types every feature shares.

Services raise ``ProblemError`` subclasses; ``relink_api.web.problems`` renders them as RFC
9457 problem+json. A type only one feature raises lives next to it (``<feature>/errors.py``).
Each type is one class statement naming its slug, title and (unless it is its base's)
status; docs/problems.md lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class ProblemError(Exception):
    """An error a client can act on. ``slug`` names the stable problem type."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init_subclass__(
        cls, *, slug: str, title: str, status: int | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.slug = slug
        cls.title = title
        if status is not None:
            cls.status = status

    def __init__(
        self,
        detail: str,
        *,
        extensions: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})


class NotFound(ProblemError, slug="not-found", title="Not found", status=404):
    """An object that does not exist or belongs to another customer (never a 403), or a
    route that is switched off."""


class BadRequest(ProblemError, slug="bad-request", title="Bad request", status=400):
    """A request that cannot be read at all."""


class Unauthorized(ProblemError, slug="unauthorized", title="Unauthorized", status=401):
    """A customer route without a bearer token that names a customer."""

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        # RFC 6750 §3: name the scheme and why it failed; a request that sent no
        # credentials at all gets no error code (§3.1).
        challenge = 'Bearer realm="relink-api"'
        if error is not None:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class AdminUnauthorized(
    ProblemError, slug="admin-unauthorized", title="An admin API key is required", status=401
):
    """The operator API's refusal: its own problem type and challenge, so that a client
    never mistakes it for an expired customer token and refreshes in a loop."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'ApiKey realm="relink-api-admin"'})


class MethodNotAllowed(
    ProblemError, slug="method-not-allowed", title="Method Not Allowed", status=405
):
    """A path that is served, but not with this method; ``Allow`` lists those it takes."""


class Conflict(ProblemError, slug="conflict", title="Conflict", status=409):
    """Another request is changing the same object, or the object's state forbids the
    change; the more specific refusals are its subclasses."""


class ValidationFailed(
    ProblemError, slug="validation-failed", title="The request is not valid", status=422
):
    """A field that is missing, of the wrong type or out of range."""


class NotConfigured(
    ProblemError, slug="not-configured", title="This server is not configured for that", status=501
):
    """A feature that needs a setting this server lacks (a hosted relink without
    RELINK_PUBLIC_BASE_URL)."""


class ServiceUnavailable(
    ProblemError, slug="service-unavailable", title="Service unavailable", status=503
):
    """Something this service depends on does not answer (the probes' refusal)."""


def problem_types() -> list[type[ProblemError]]:
    """Every problem type defined in the modules imported so far (the app imports them all),
    by status, then slug: what the OpenAPI document lists as ``type``'s values."""
    found: list[type[ProblemError]] = [ProblemError]
    for cls in found:
        found.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: (cls.status, cls.slug))
