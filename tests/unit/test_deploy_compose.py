"""deploy/compose.yaml holds together where the Compose Specification's schema cannot tell
(test_deploy_linters.py runs that): two replicas serve behind the proxy, which is the one
address they believe forwarded headers from and which checks their /readyz; deliveries run
in the worker; every variable set is a setting relink-api reads; and no secret is written in
the file."""

from __future__ import annotations

import ipaddress
import re
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]
from pydantic import SecretStr

from relink_api.edge.proxy import normalize_proxy_entries
from relink_api.settings import Settings
from tests.settings_reference import environment_variable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
REPLICAS = ("relink-1", "relink-2")
# What the containers get besides relink-api's settings: asyncpg's password variable, which
# the entrypoint fills from the compose secret.
NOT_SETTINGS = {"PGPASSWORD"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in (service.get("environment") or {}).items()}


def setting_variables() -> dict[str, str]:
    """Every variable relink-api reads, to the name of its setting."""
    return {
        environment_variable(name, field): name for name, field in Settings.model_fields.items()
    }


def holds_secret(annotation: object) -> bool:
    """Whether ``SecretStr`` is in the annotation (``SecretStr | None``, ``list[SecretStr]``)."""
    return annotation is SecretStr or any(holds_secret(arg) for arg in typing.get_args(annotation))


def secret_variables() -> set[str]:
    """The variables of settings the model keeps as secrets."""
    return {
        environment_variable(name, field)
        for name, field in Settings.model_fields.items()
        if holds_secret(field.annotation)
    }


def test_two_replicas_serve_and_a_worker_delivers(compose: dict[str, Any]) -> None:
    found = services(compose)
    for name in REPLICAS:
        assert found[name]["command"] == ["serve"]
        assert environment(found[name])["RELINK_OUTBOUND_WORKERS"] == "0"
        assert environment(found[name])["RELINK_REMINDER_INTERVAL_SECONDS"] == "0"
    worker = found["worker"]
    assert worker["command"] == ["worker"]
    assert environment(worker).get("RELINK_OUTBOUND_WORKERS") != "0"
    # The image's health check asks /readyz, which a worker does not serve.
    assert worker["healthcheck"] == {"disable": True}
    for name in ("sync", "prune-events"):
        assert found[name]["command"] == [name]
        assert found[name]["profiles"] == ["jobs"]


def test_every_relink_process_uses_the_postgres_service(compose: dict[str, Any]) -> None:
    found = services(compose)
    postgres = found["postgres"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    for name, service in found.items():
        if name in ("postgres", "proxy"):
            continue
        url = urlsplit(environment(service)["DATABASE_URL"])
        assert (url.hostname, url.port) == ("postgres", 5432), name
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
        assert set(postgres["networks"]) <= set(service["networks"]), name


def test_replicas_are_health_checked_on_readyz(compose: dict[str, Any]) -> None:
    found = services(compose)
    for name in REPLICAS:
        test = " ".join(found[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{environment(found[name])['RELINK_PORT']}/readyz" in test
        assert found["proxy"]["depends_on"][name] == {"condition": "service_healthy"}
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.search(r"reverse_proxy ([^{\n]+)\{", caddyfile)
    assert upstreams is not None
    ports = {environment(found[name])["RELINK_PORT"] for name in REPLICAS}
    assert upstreams.group(1).split() == [f"{name}:{port}" for name in REPLICAS for port in ports]
    assert re.search(r"^\s*health_uri /readyz$", caddyfile, re.MULTILINE)


def test_the_replicas_believe_forwarded_headers_from_the_proxy_alone(
    compose: dict[str, Any],
) -> None:
    found = services(compose)
    proxy = found["proxy"]
    [(network, attachment)] = proxy["networks"].items()
    address = ipaddress.ip_address(attachment["ipv4_address"])
    [subnet] = compose["networks"][network]["ipam"]["config"]
    assert address in ipaddress.ip_network(subnet["subnet"])
    for name in REPLICAS:
        trusted = environment(found[name])["RELINK_FORWARDED_ALLOW_IPS"].split(",")
        assert normalize_proxy_entries(trusted) == [f"{address}/32"]
        assert network in found[name]["networks"]
    # PostgreSQL is out of the proxy's reach.
    assert "data" not in proxy["networks"]
    assert compose["networks"]["data"]["internal"] is True


def test_every_variable_set_is_a_setting(compose: dict[str, Any]) -> None:
    known = setting_variables()
    for name, service in services(compose).items():
        if name in ("postgres", "proxy"):
            continue
        unknown = set(environment(service)) - set(known) - NOT_SETTINGS
        assert unknown == set(), name
    example = (DEPLOY / "relink.env.example").read_text()
    listed = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.MULTILINE)
    assert listed
    assert set(listed) - set(known) == set()


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    secrets = secret_variables() - {"DATABASE_URL"}
    assert {"STRIPE_SECRET_KEY", "RELINK_AUTH_JWT_SECRET"} <= secrets
    for name, service in services(compose).items():
        assert set(environment(service)) & secrets == set(), name
        url = environment(service).get("DATABASE_URL")
        if url is not None:
            assert urlsplit(url).password is None, name
        assert "POSTGRES_PASSWORD" not in environment(service), name
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"\b(sk|rk|pk)_(test|live)_|whsec_|rk_admin_", text)
    # What holds them is never committed.
    ignored = (DEPLOY / ".gitignore").read_text().split()
    env_files = {service.get("env_file") for service in services(compose).values()} - {None}
    assert env_files == {"relink.env"}
    assert "relink.env" in ignored
    for secret in compose["secrets"].values():
        assert Path(secret["file"]).parts[0] + "/" in ignored
