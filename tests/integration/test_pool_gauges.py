"""The pool gauges follow every acquire and release without looking their series up again
each time (``labels()`` costs more than the ``set()`` after it, twice a unit of work)."""

from __future__ import annotations

from typing import Any

import pytest

from relink_api.db import Database
from relink_api.metrics import families
from relink_api.metrics.families import REGISTRY
from tests.conftest import make_settings


def _pool_gauge(state: str) -> float | None:
    return REGISTRY.get_sample_value("relink_db_pool_connections", {"state": state})


async def test_units_of_work_set_the_gauges_without_a_label_lookup(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database_url, db_pool_min_size=1, db_pool_max_size=2)
    database = await Database.connect(database_url, settings)
    lookups: list[tuple[Any, ...]] = []
    for family in (families.DB_POOL_CONNECTIONS, families.DB_POOL_LIMIT):
        labels = family.labels

        def counted(*values: Any, _labels: Any = labels) -> Any:
            lookups.append(values)
            return _labels(*values)

        monkeypatch.setattr(family, "labels", counted)
    try:
        async with database.transaction() as conn:
            await conn.fetchval("SELECT 1")
            assert _pool_gauge("in_use") == 1
        async with database.connection() as conn:
            await conn.fetchval("SELECT 1")
        assert _pool_gauge("in_use") == 0
        assert _pool_gauge("idle") == 1
    finally:
        await database.close()
    assert lookups == []
