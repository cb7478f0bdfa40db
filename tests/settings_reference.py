"""The settings reference in docs/deploy.md, generated from ``relink_api.settings.Settings``
(and the mixins it is made of): one table per class that declares settings, a row per
setting with its environment variable, default, accepted values and description.

``scripts/settings-reference`` rewrites the table; tests/unit/test_deploy_docs.py fails when
the committed one differs from what the model gives.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path

import annotated_types
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from relink_api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "deploy.md"
BEGIN = "<!-- settings-reference:begin (scripts/settings-reference writes this table) -->"
END = "<!-- settings-reference:end -->"

# What the model does not say of a setting itself (settings.py has no room left for it). A
# setting given a ``description=`` in the model must leave this list, and a new setting needs
# one or the other: tests/unit/test_deploy_docs.py checks both.
UNDESCRIBED: dict[str, str] = {
    "stripe_publishable_key": "pk_test_… / pk_live_…, of the same mode as the secret key; "
    "`serve` needs it.",
    "stripe_api_version": "The Stripe-Version sent on every call; a preview version (the one "
    "the pinned SDK was generated for). Webhook endpoints must use the same one.",
    "stripe_timeout_seconds": "How long one HTTP attempt to Stripe may take.",
    "stripe_max_network_retries": "How many times the SDK retries a failed attempt.",
    "webhook_retention_days": "How long received webhook event ids are kept to recognise "
    "redeliveries; `relink-api prune-events` deletes older ones.",
    "rate_limit_customer_per_minute": "Per customer, on the routes that call Stripe: the "
    "sustained rate.",
    "rate_limit_customer_burst": "Per customer: the burst above that rate.",
    "rate_limit_operator_per_minute": "Per admin key, on the operator routes that call "
    "Stripe: the sustained rate.",
    "rate_limit_operator_burst": "Per admin key: the burst above that rate.",
    "rate_limit_failed_guesses_per_minute": "Per client address: failed admin keys and "
    "/relink/return links that do not match, the sustained rate.",
    "rate_limit_failed_guesses_burst": "Per client address: the burst of failed guesses.",
    "stripe_requests_per_second": "Every HTTP attempt to Stripe from every process (shared "
    "in the database): the sustained rate. Keep rate + burst within the Stripe account's "
    "limit (100 a second in live mode by default, 25 in test mode; docs/stripe.md §7).",
    "stripe_requests_burst": "The burst above that rate.",
    "data_dir": "The embedded PostgreSQL's folder (and the sandbox's files) when "
    "DATABASE_URL is unset.",
    "db_pool_min_size": "Connections each process keeps open.",
    "db_pool_max_size": "The most connections each process opens (its pool).",
    "db_command_timeout_seconds": "The longest a database statement may run.",
    "auth_issuer": "The `iss` bearer tokens must carry; unset: not checked.",
    "auth_audience": "The `aud` bearer tokens must carry; unset: not checked.",
    "auth_customer_claim": "The claim of a bearer token that names the Stripe customer.",
    "auth_leeway_seconds": "Clock skew allowed when a token's `exp` (and `nbf`) is checked.",
    "host": "The address `serve` listens on.",
    "port": "The port `serve` listens on.",
    "log_level": "The lowest level logged.",
}


def environment_variable(name: str, field: FieldInfo) -> str:
    """The variable a setting is read from: its alias, or ``RELINK_`` and its name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices) and isinstance(alias.choices[0], str):
        return alias.choices[0]
    if isinstance(alias, str):
        return alias
    return f"{Settings.model_config.get('env_prefix', '')}{name}".upper()


def declaring_classes() -> Iterator[type]:
    """Settings, then its mixins, each with the settings it declares itself."""
    for cls in Settings.__mro__:
        if cls.__module__.startswith("relink_api.") and inspect.get_annotations(cls):
            yield cls


def _declared(cls: type) -> list[str]:
    return [name for name in inspect.get_annotations(cls) if name in Settings.model_fields]


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is None or value is PydanticUndefined:
        return "unset"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value) if value else "empty"
    return _plain(value)


def _kind(annotation: object) -> str:
    """What the variable holds, in a word or two."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(args[0])
    if origin in (typing.Union, types.UnionType):
        return _kind(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{arg}`" for arg in typing.get_args(annotation))
    if origin is list:
        item = _kind(args[0])
        return (
            f"comma-separated {item}s" if item in ("number", "secret") else "comma-separated list"
        )
    names = {SecretStr: "secret", bool: "boolean", int: "integer", float: "number", str: "text"}
    if isinstance(annotation, type):
        return names.get(annotation, "path" if issubclass(annotation, Path) else "text")
    return "text"


def _bounds(field: FieldInfo) -> str:
    parts: list[str] = []
    lengths = [1, None]
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(f"{sign} {_plain(value)}")
        if isinstance(item, annotated_types.MinLen):
            lengths[0] = item.min_length
        if isinstance(item, annotated_types.MaxLen):
            lengths[1] = item.max_length
    if lengths[1] is not None:
        parts.append(f"{lengths[0]} to {lengths[1]} characters")
    return ", ".join(parts)


def description(name: str, field: FieldInfo) -> str | None:
    return field.description or UNDESCRIBED.get(name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows(cls: type) -> list[str]:
    lines = ["| Variable | Default | Values | Description |", "|---|---|---|---|"]
    for name in _declared(cls):
        field = Settings.model_fields[name]
        values = _kind(field.annotation)
        bounds = _bounds(field)
        lines.append(
            f"| `{environment_variable(name, field)}` | {_cell(_default(field))} | "
            f"{values}{', ' + bounds if bounds else ''} | "
            f"{_cell(description(name, field) or '')} |"
        )
    return lines


def table() -> str:
    """The whole reference, as it stands between the markers."""
    parts: list[str] = []
    for cls in declaring_classes():
        if not _declared(cls):
            continue
        summary = (cls.__doc__ or "").strip().splitlines()[0].replace("``", "`")
        parts.append(f"`{cls.__module__}.{cls.__name__}`: {summary}\n\n" + "\n".join(rows(cls)))
    return "\n\n".join(parts)


def committed_table(text: str) -> str | None:
    """The table between the markers in ``text``, or None when a marker is missing."""
    match = re.search(re.escape(BEGIN) + r"(.*?)" + re.escape(END), text, re.DOTALL)
    return match.group(1).strip() if match else None


def rewrite(text: str) -> str:
    if committed_table(text) is None:
        raise SystemExit(f"{DOCUMENT}: the markers {BEGIN} and {END} are missing")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    return text[:start] + "\n\n" + table() + "\n\n" + text[end:]


def main() -> None:
    before = DOCUMENT.read_text()
    after = rewrite(before)
    if after != before:
        DOCUMENT.write_text(after)
        print(f"rewrote the settings reference in {DOCUMENT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
