"""``relink_http_request_duration_seconds``: every request timed, by method, the template of
the route that answered it and the status sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from prometheus_client import Histogram
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from relink_api.metrics.families import HTTP_REQUEST_SECONDS

UNMATCHED = "unmatched"
# Methods a route may answer; anything else is one label, so no caller adds series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class RouteTemplates:
    """The full template of every route, by the id of the route object the router puts in
    the scope (a router included with a prefix, as the sandbox's Stripe API is under
    ``/sandbox/stripe``, keeps routes whose own ``path`` lacks it), and the mount paths."""

    routes: dict[int, str]
    mounts: frozenset[str]

    @classmethod
    def of(cls, routes: Sequence[BaseRoute]) -> RouteTemplates:
        contexts = list(iter_route_contexts(routes))
        return cls(
            routes={id(c.original_route): c.path for c in contexts if c.path is not None},
            mounts=frozenset(
                c.path for c in contexts if isinstance(c.original_route, Mount) and c.path
            ),
        )

    def label(self, scope: Scope) -> str:
        """The template of the route the router matched (``/v1/accounts/{account_id}``),
        the mount path of mounted files, or ``unmatched``: never the raw path."""
        route = scope.get("route")
        if route is not None:
            path = self.routes.get(id(route), getattr(route, "path", None))
            return path if isinstance(path, str) else UNMATCHED
        # A mount leaves no route in the scope, only the path it took in root_path.
        root = scope.get("root_path", "")
        mounted = root.removeprefix(scope.get("app_root_path", root))
        return mounted if mounted in self.mounts else UNMATCHED


class RequestMetrics:
    """Observes each request's time in ``relink_http_request_duration_seconds``. The edge
    (``edge.front``) calls it once the answer has ended, from the outermost layer, so that
    answers the edge gives itself (413 from the body limit, the 500 for an unexpected
    error) are counted with the rest; the router notes the route in the scope it shares."""

    def __init__(self) -> None:
        self._templates: RouteTemplates | None = None
        # Each series' child by its labels, looked up once: labels() takes a lock and
        # validates its values on every call. The labels come from closed sets.
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        """One request of ``scope``, answered with ``status`` after ``seconds``."""
        if self._templates is None:
            # The routes are all in place once the first request comes.
            self._templates = RouteTemplates.of(scope["app"].routes)
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (method, self._templates.label(scope), status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = HTTP_REQUEST_SECONDS.labels(key[0], key[1], str(status))
        child.observe(seconds)
