"""Bearer tokens on GET /v1/accounts: every way a token can be wrong is a 401 challenge,
issuer and audience are enforced when configured, and RS256/ES256 tokens verify against a
JWKS without letting an HS256 token signed with the public key through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from relink_api.settings import Settings
from tests.conftest import JWT_SECRET, Seed, bearer, make_settings
from tests.support import serve

JWKS_URL = "https://idp.example/.well-known/jwks.json"
ISSUER = "https://host.example"
AUDIENCE = "relink"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(customer: str = "cus_A", *, drop: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """Valid claims for ``customer``; ``drop`` removes some, keywords override."""
    now = int(time.time())
    values: dict[str, Any] = {
        "stripe_customer": customer,
        "sub": customer,
        "iat": now,
        "exp": now + 600,
    }
    values.update(extra)
    for name in drop:
        values.pop(name, None)
    return values


def hs256(payload: dict[str, Any], secret: str = JWT_SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def headers_for(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_challenge(response: httpx.Response, error: str | None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if error is None:
        assert "error=" not in challenge  # RFC 6750 §3.1: no credentials, no error code
    else:
        assert f'error="{error}"' in challenge
    problem = response.json()
    assert problem["type"] == "/problems/unauthorized"
    assert problem["status"] == 401
    assert problem["instance"] == "/v1/accounts"


def listed_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [account["id"] for account in response.json()["data"]]


# --- HS256 with the shared secret ------------------------------------------------------


async def test_a_valid_token_lists_the_callers_accounts(
    client: httpx.AsyncClient, seed: Seed
) -> None:
    # The control for every refusal below: the same claims, correctly signed, are let in.
    await seed("fca_a")
    await seed("fca_b", customer="cus_B")

    response = await client.get("/v1/accounts", headers=headers_for(hs256(claims())))

    assert listed_ids(response) == ["fca_a"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNzd29yZA==", "Bearer", "Bearer   ", "Token abc.def.ghi"],
    ids=["no-header", "basic-scheme", "bearer-without-token", "bearer-blank", "other-scheme"],
)
async def test_a_missing_or_non_bearer_authorization_is_401(
    client: httpx.AsyncClient, seed: Seed, authorization: str | None
) -> None:
    await seed("fca_a")
    headers = {} if authorization is None else {"Authorization": authorization}

    response = await client.get("/v1/accounts", headers=headers)

    assert_challenge(response, None if authorization is None else "invalid_request")
    assert "fca_a" not in response.text


def _expired() -> str:
    now = int(time.time())
    return hs256(claims(iat=now - 3600, exp=now - 120))


def _other_secret() -> str:
    return hs256(claims(), "another-secret-that-is-also-32-bytes-or-more")


def _alg_none() -> str:
    return f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims())}."


def _alg_none_capitalised() -> str:
    return f"{segment({'alg': 'None', 'typ': 'JWT'})}.{segment(claims())}."


def _no_customer() -> str:
    return hs256(claims(drop=("stripe_customer",)))


def _empty_customer() -> str:
    return hs256(claims(stripe_customer=""))


def _non_string_customer() -> str:
    return hs256(claims(stripe_customer=["cus_A"]))


def _no_exp() -> str:
    return hs256(claims(drop=("exp",)))


def _tampered_claims() -> str:
    header, _, signature = hs256(claims("cus_B")).split(".")
    return f"{header}.{segment(claims('cus_A'))}.{signature}"


@pytest.mark.parametrize(
    "make_token",
    [
        _expired,
        _other_secret,
        _alg_none,
        _alg_none_capitalised,
        _no_customer,
        _empty_customer,
        _non_string_customer,
        _no_exp,
        _tampered_claims,
        lambda: "garbage",
        lambda: "not.a.jwt",
    ],
    ids=[
        "expired",
        "other-secret",
        "alg-none",
        "alg-None",
        "no-customer-claim",
        "empty-customer-claim",
        "non-string-customer-claim",
        "no-exp",
        "claims-swapped-under-a-valid-signature",
        "garbage",
        "three-garbage-segments",
    ],
)
async def test_an_invalid_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, seed: Seed, make_token: Any
) -> None:
    await seed("fca_a")

    response = await client.get("/v1/accounts", headers=headers_for(make_token()))

    assert_challenge(response, "invalid_token")
    assert "fca_a" not in response.text


async def test_expiry_within_the_leeway_is_accepted(client: httpx.AsyncClient, seed: Seed) -> None:
    # The other side of the boundary the `expired` case tests: 10 s late is within 30 s.
    await seed("fca_a")
    now = int(time.time())

    response = await client.get(
        "/v1/accounts", headers=headers_for(hs256(claims(iat=now - 600, exp=now - 10)))
    )

    assert listed_ids(response) == ["fca_a"]


# --- issuer and audience ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"iss": ISSUER, "aud": AUDIENCE}, 200),
        ({"iss": ISSUER, "aud": [AUDIENCE, "other"]}, 200),
        ({"iss": "https://evil.example", "aud": AUDIENCE}, 401),
        ({"iss": ISSUER, "aud": "other-service"}, 401),
        ({"aud": AUDIENCE}, 401),
        ({"iss": ISSUER}, 401),
    ],
    ids=["right", "right-aud-in-list", "wrong-iss", "wrong-aud", "no-iss", "no-aud"],
)
async def test_issuer_and_audience_are_enforced_when_configured(
    database_url: str,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    extra: dict[str, Any],
    expected: int,
) -> None:
    await seed("fca_a")
    strict = make_settings(database_url, auth_issuer=ISSUER, auth_audience=AUDIENCE)

    async with serve(strict) as http:
        response = await http.get("/v1/accounts", headers=headers_for(hs256(claims(**extra))))

    if expected == 200:
        assert listed_ids(response) == ["fca_a"]
    else:
        assert_challenge(response, "invalid_token")


async def test_minted_tokens_carry_the_configured_issuer_and_audience(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed, settings: Settings
) -> None:
    await seed("fca_a")
    strict = make_settings(database_url, auth_issuer=ISSUER, auth_audience=AUDIENCE)

    async with serve(strict) as http:
        right = await http.get("/v1/accounts", headers=bearer(strict, "cus_A"))
        # A token minted without iss/aud (the default settings) is refused by the strict app.
        plain = await http.get("/v1/accounts", headers=bearer(settings, "cus_A"))

    assert listed_ids(right) == ["fca_a"]
    assert_challenge(plain, "invalid_token")


# --- customer claim override -----------------------------------------------------------


async def test_the_customer_claim_name_can_be_configured(
    database_url: str, stripe_mock: respx.MockRouter, seed: Seed, settings: Settings
) -> None:
    await seed("fca_a")
    await seed("fca_b", customer="cus_B")
    custom = make_settings(database_url, auth_customer_claim="cus")
    now = int(time.time())

    async with serve(custom) as http:
        minted = await http.get("/v1/accounts", headers=bearer(custom, "cus_B"))
        by_hand = await http.get(
            "/v1/accounts", headers=headers_for(hs256({"cus": "cus_A", "exp": now + 600}))
        )
        # The default claim name means nothing to this app.
        default_claim = await http.get("/v1/accounts", headers=bearer(settings, "cus_A"))

    assert listed_ids(minted) == ["fca_b"]
    assert listed_ids(by_hand) == ["fca_a"]
    assert_challenge(default_claim, "invalid_token")


# --- RS256 / ES256 from a JWKS ---------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwks_fetches(
    monkeypatch: pytest.MonkeyPatch, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> list[str]:
    """PyJWKClient reads the JWKS with urllib; serve it from memory and count the reads."""
    rsa_jwk = dict(RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True))
    rsa_jwk.update(kid="rsa-1", alg="RS256", use="sig")
    ec_jwk = dict(ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True))
    ec_jwk.update(kid="ec-1", alg="ES256", use="sig")
    jwks = {"keys": [rsa_jwk, ec_jwk]}
    fetched: list[str] = []

    def fetch_data(self: jwt.PyJWKClient) -> dict[str, Any]:
        fetched.append(self.uri)
        return jwks

    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", fetch_data)
    return fetched


@pytest.fixture
def jwks_settings(database_url: str) -> Settings:
    return make_settings(database_url, auth_jwt_secret=None, auth_jwks_url=JWKS_URL)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_asymmetric_tokens_verify_against_the_jwks(
    jwks_settings: Settings,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    jwks_fetches: list[str],
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    algorithm: str,
) -> None:
    await seed("fca_a1")
    await seed("fca_a2")
    await seed("fca_b", customer="cus_B")
    key: Any = rsa_key if algorithm == "RS256" else ec_key
    kid = "rsa-1" if algorithm == "RS256" else "ec-1"
    token = jwt.encode(claims("cus_A"), key, algorithm=algorithm, headers={"kid": kid})

    async with serve(jwks_settings) as http:
        response = await http.get("/v1/accounts", headers=headers_for(token))

    assert listed_ids(response) == ["fca_a1", "fca_a2"]
    assert jwks_fetches
    assert set(jwks_fetches) == {JWKS_URL}


def _hs256_by_hand(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    # PyJWT refuses to HMAC with a PEM key, so an attacker's token is built by hand.
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


@pytest.mark.parametrize(
    "encoding",
    [serialization.Encoding.PEM, serialization.Encoding.DER],
    ids=["pem", "der"],
)
async def test_hs256_signed_with_the_public_key_is_refused(
    jwks_settings: Settings,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    jwks_fetches: list[str],
    rsa_key: rsa.RSAPrivateKey,
    encoding: serialization.Encoding,
) -> None:
    await seed("fca_a")
    public = rsa_key.public_key().public_bytes(
        encoding, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = _hs256_by_hand({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, claims(), public)

    async with serve(jwks_settings) as http:
        response = await http.get("/v1/accounts", headers=headers_for(forged))

    assert_challenge(response, "invalid_token")
    assert "fca_a" not in response.text


def _signed_by_a_stranger_with_our_kid() -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "rsa-1"})


@pytest.mark.parametrize(
    "make_token",
    [
        _signed_by_a_stranger_with_our_kid,
        _alg_none,
        lambda: f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': 'rsa-1'})}.{segment(claims())}.",
        lambda: "garbage",
    ],
    ids=["stranger-key-our-kid", "alg-none", "alg-none-with-kid", "garbage"],
)
async def test_jwks_mode_refuses_tokens_it_cannot_verify(
    jwks_settings: Settings,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    jwks_fetches: list[str],
    make_token: Any,
) -> None:
    await seed("fca_a")

    async with serve(jwks_settings) as http:
        response = await http.get("/v1/accounts", headers=headers_for(make_token()))

    assert_challenge(response, "invalid_token")


async def test_jwks_mode_refuses_an_unknown_kid_and_an_expired_token(
    jwks_settings: Settings,
    stripe_mock: respx.MockRouter,
    seed: Seed,
    jwks_fetches: list[str],
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    await seed("fca_a")
    now = int(time.time())
    unknown_kid = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "rsa-9"})
    expired = jwt.encode(
        claims(iat=now - 3600, exp=now - 120), rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
    )

    async with serve(jwks_settings) as http:
        unknown = await http.get("/v1/accounts", headers=headers_for(unknown_kid))
        late = await http.get("/v1/accounts", headers=headers_for(expired))

    assert_challenge(unknown, "invalid_token")
    assert_challenge(late, "invalid_token")
