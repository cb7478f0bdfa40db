"""An https endpoint is reached at the address that was vetted (pinned, never resolved
again), while TLS still checks the certificate against the endpoint's host name (SNI and
verification), and the receiver sees that name in ``Host``: a certificate for another name
fails the attempt."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from relink_api.db import Database
from relink_api.outbound import addresses
from relink_api.outbound.addresses import IPAddress
from relink_api.outbound.worker import deliver_due
from relink_api.settings import Settings
from tests.integration.test_outbound_delivery import T0, db, delivery, emit, register, settings
from tests.outbound_receiver import OutboundReceiver

__all__ = ["db", "settings"]  # the delivery tests' fixtures: a database, no loops

HOST = "hooks.relink.test"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey]
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if subject == issuer[0]:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), False)
    return builder.sign(issuer[1], hashes.SHA256())


@pytest.fixture(scope="module")
def authority(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    """A test certificate authority: its certificate file, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    folder = tmp_path_factory.mktemp("ca")
    path = folder / "ca.pem"
    path.write_bytes(
        _issue("relink test CA", key, ("relink test CA", key)).public_bytes(
            serialization.Encoding.PEM
        )
    )
    return path, key


def _server_files(
    folder: Path, name: str, authority: tuple[Path, ec.EllipticCurvePrivateKey]
) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _issue(name, key, ("relink test CA", authority[1]))
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


@pytest.fixture
async def trusting(
    authority: tuple[Path, ec.EllipticCurvePrivateKey],
) -> AsyncIterator[httpx.AsyncClient]:
    """The delivery client as the worker makes it, trusting the test authority."""
    context = ssl.create_default_context(cafile=str(authority[0]))
    async with httpx.AsyncClient(
        verify=context,
        timeout=5,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        yield client


@pytest.fixture
def loopback_name(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The endpoint's name resolves to loopback (the vetted address); what was asked."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(addresses, "resolve", resolve)
    return asked


@pytest.mark.parametrize(
    ("certificate_name", "delivered"), [(HOST, True), ("someone-else.relink.test", False)]
)
async def test_an_https_endpoint_is_pinned_yet_verified_by_its_name(
    db: Database,
    settings: Settings,
    trusting: httpx.AsyncClient,
    loopback_name: list[str],
    authority: tuple[Path, ec.EllipticCurvePrivateKey],
    tmp_path: Path,
    certificate_name: str,
    delivered: bool,
) -> None:
    files = _server_files(tmp_path, certificate_name, authority)
    with OutboundReceiver(tls=files, host=HOST) as receiver:
        await register(db, settings, receiver.url, receiver)
        event_id = await emit(db)

        assert await deliver_due(db, settings, now=T0, client=trusting) == 1

    state = await delivery(db, event_id)
    assert loopback_name == [HOST]  # resolved once, by the vetting
    if delivered:
        assert state["status"] == "delivered"
        (receipt,) = receiver.accepted()
        assert receipt.headers["host"] == f"{HOST}:{httpx.URL(receiver.url).port}"
    else:
        assert state["status"] == "pending"
        (attempt,) = state["log"]
        assert attempt["response_status"] is None
        assert "CERTIFICATE_VERIFY_FAILED" in attempt["error"] or "certificate" in attempt["error"]
        assert receiver.receipts == []
