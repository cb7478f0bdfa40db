"""Stripe's wire format: bracket params in, Stripe's error envelope out, Stripe's ids."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from relink_api.sandbox import versions

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """``<prefix>_<random>``, Stripe's shape (fcsess_, fca_, fcauth_, seti_, pm_, evt_…)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def client_secret_for(object_id: str) -> str:
    """``<id>_secret_<random>``, the shape Stripe.js and the mobile SDKs expect."""
    return f"{object_id}_secret_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def request_id() -> str:
    return new_id("req", 14)


class StripeApiError(Exception):
    """An error Stripe would answer with; rendered in Stripe's envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        related: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        # The objects Stripe names in an error about them: `setup_intent`, `payment_method`.
        self.related = related or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message, **self.related}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def missing(kind: str, object_id: str, *, param: str = "id") -> StripeApiError:
    return StripeApiError(
        404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param
    )


def invalid(
    message: str, *, param: str | None = None, code: str = "parameter_invalid"
) -> StripeApiError:
    return StripeApiError(400, message, code=code, param=param)


def error_response(exc: StripeApiError, *, stripe_version: str | None) -> JSONResponse:
    """The error in Stripe's envelope; ``stripe_version`` is the request's header."""
    rid = request_id()
    headers = {"Request-Id": rid, "Stripe-Version": versions.answered_at(stripe_version)}
    return JSONResponse(exc.body(rid), status_code=exc.status, headers=headers)


def decode_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][0]=x&a[c]=y`` → ``{"a": {"b": ["x"], "c": "y"}}``; ``a[]=x`` appends."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if match is None:
            raise invalid(f"Invalid parameter name: {raw_key}", code="parameter_unknown")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: dict[str, Any] = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            key = part if part != "" else str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(key), dict):
                    raise invalid(f"Invalid value for {raw_key}: it is a hash.", param=raw_key)
                node[key] = value
            else:
                child = node.setdefault(key, {})
                if not isinstance(child, dict):
                    raise invalid(f"Invalid value for {raw_key}.", param=raw_key)
                node = child
    decoded: dict[str, Any] = _lists(root)
    return decoded


def _lists(node: Any) -> Any:
    # Dicts keyed 0..n-1 are arrays on the wire.
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        indices = sorted(int(key) for key in converted)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


async def form_params(request: Request) -> dict[str, Any]:
    """The request's params: the query string on GET, the form-encoded body on POST."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        try:
            body = (await request.body()).decode()
        except UnicodeDecodeError:
            raise invalid("The request body is not valid UTF-8 form data.") from None
        pairs += parse_qsl(body, keep_blank_values=True)
    return decode_params(pairs)


def check_known(params: dict[str, Any], allowed: dict[str, Any], prefix: str = "") -> None:
    """Refuse parameters Stripe does not know, naming them as Stripe does."""
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in allowed:
            raise invalid(
                f"Received unknown parameter: {name}", code="parameter_unknown", param=name
            )
        spec = allowed[key]
        if isinstance(spec, dict) and isinstance(value, dict):
            check_known(value, spec, name)
