"""``Idempotency-Key``: a retried create gets the first attempt's result, never a second one.

What is kept is the request's fingerprint and the ids of what it created, never the
response: responses carry client secrets. A replay rebuilds the response by reading the
resource again (and Stripe's copy of it, for the secret). Ids and the Stripe idempotency
key of a keyed request are derived from the claim, so a retry after a crash asks Stripe
for the same object, and Stripe's own idempotency hands back the one already made.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel

from relink_api.db import Database
from relink_api.idempotency import repository
from relink_api.idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
# Longer than the slowest create can take (Stripe's 10 s timeout, two retries, backoff):
# a claim still leased after it belongs to a request that died.
LEASE = timedelta(seconds=60)
# Every keyed request creates something; the status is kept only to mark a key done.
_CREATED = 201


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key, with the request it came on."""

    value: str
    method: str
    path: str


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to do the work for a key. ``created_at`` seeds every derived id, so a
    retry that takes over a dead claim derives the same ones."""

    principal: str
    key: str
    created_at: datetime

    def derive(self, purpose: str) -> str:
        """A stable 24-hex-digit id for ``purpose`` under this claim."""
        material = "\x1f".join((purpose, self.principal, self.key, self.created_at.isoformat()))
        return hashlib.sha256(material.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Idempotent(Generic[T]):
    value: T
    replayed: bool


def customer_scope(customer_id: str) -> str:
    """Whose keys these are: one customer's keys never meet another's."""
    return "customer:" + customer_id


def operator_scope(key_id: str) -> str:
    """An operator's keys, per admin API key."""
    return "operator:" + key_id


def parse_key(header: str | None, *, method: str, path: str) -> IdempotencyKey | None:
    """The header's key, or a 400 saying what is wrong with it."""
    if header is None:
        return None
    if not header:
        raise IdempotencyKeyInvalid(f"{HEADER} must not be empty.")
    if len(header) > MAX_KEY_LENGTH:
        raise IdempotencyKeyInvalid(
            f"{HEADER} is {len(header)} characters long; at most {MAX_KEY_LENGTH} are allowed.",
            extensions={"max_length": MAX_KEY_LENGTH},
        )
    if not all(" " <= char <= "~" for char in header):
        raise IdempotencyKeyInvalid(f"{HEADER} may hold only printable ASCII characters.")
    return IdempotencyKey(value=header, method=method, path=path)


def fingerprint(body: BaseModel | None) -> str:
    """The request body's digest, as parsed: key order, spacing and defaults spelled out
    or left to the server do not make a different request."""
    data = body.model_dump(mode="json") if body is not None else None
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_once(
    db: Database,
    key: IdempotencyKey | None,
    *,
    scope: str,
    body: BaseModel | None,
    create: Callable[[Claim | None], Awaitable[T]],
    ids: Callable[[T], Mapping[str, str]],
    rebuild: Callable[[Mapping[str, str]], Awaitable[T]],
) -> Idempotent[T]:
    """Run ``create`` once per key of ``scope``; a later request with the key gets
    ``rebuild`` of the ``ids`` of what the first one created.

    ``create`` is given the claim (``None`` without a key) to derive its ids from."""
    if key is None:
        return Idempotent(value=await create(None), replayed=False)
    claimed = await _claim(db, key, scope=scope, fingerprint=fingerprint(body))
    if not isinstance(claimed, Claim):
        return Idempotent(value=await rebuild(claimed), replayed=True)
    try:
        value = await create(claimed)
    except BaseException:
        await _release(db, claimed)
        raise
    try:
        async with db.transaction() as conn:
            await repository.complete(
                conn, claimed, resource_ids=dict(ids(value)), status_code=_CREATED
            )
    except Exception:
        # The work is done and is derivable from the claim: a retry whose lease has ended
        # finds it again. Failing the request now would only make the client retry sooner.
        logger.warning("could not record idempotency key for %s; a retry rebuilds", key.path)
    return Idempotent(value=value, replayed=False)


async def _claim(
    db: Database, key: IdempotencyKey, *, scope: str, fingerprint: str
) -> Claim | Mapping[str, str]:
    async with db.transaction() as conn:
        row, claimed = await repository.claim(
            conn,
            principal=scope,
            key=key.value,
            method=key.method,
            path=key.path,
            fingerprint=fingerprint,
            retention=RETENTION,
            lease=LEASE,
        )
        if not claimed:
            if (row.method, row.path, row.fingerprint) != (key.method, key.path, fingerprint):
                raise IdempotencyKeyReused(
                    f"{HEADER} {key.value!r} was first used for {row.method} {row.path} with "
                    "a different body. Use a new key for a different request."
                )
            if row.status_code is not None:
                return row.resource_ids or {}
            if row.leased:
                # The claim may belong to a request that died: the only time after which a
                # retry is sure to be answered is the end of its lease.
                retry_after = max(1, row.lease_seconds_left or 0)
                raise IdempotencyKeyInUse(
                    f"The first request with {HEADER} {key.value!r} is still running; retry "
                    "after it finishes to get its result.",
                    headers={"Retry-After": str(retry_after)},
                )
            row = await repository.extend_lease(conn, principal=scope, key=key.value, lease=LEASE)
    return Claim(principal=row.principal, key=row.key, created_at=row.created_at)


async def _release(db: Database, claim: Claim) -> None:
    try:
        async with db.transaction() as conn:
            await repository.release(conn, claim)
    except Exception:
        logger.warning("could not release an idempotency key; its lease lapses on its own")


async def purge_expired(db: Database) -> int:
    """Forget keys older than their 24 hours; how many were deleted."""
    async with db.transaction() as conn:
        return await repository.purge_expired(conn)
