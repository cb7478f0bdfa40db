"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from relink_api.db.supervisor import EmbeddedPostgresSupervisor
from relink_api.errors import ServiceUnavailable
from relink_api.web.deps import DatabaseDep
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.responses import problem_responses
from relink_api.web.security import NO_CREDENTIALS

router = APIRouter(tags=["probes"], dependencies=[STRICT_QUERY])


class ProbeState(StrEnum):
    """``ok``: the process answers; ``ready``: and its database answers."""

    ok = "ok"
    ready = "ready"


class ProbeStatus(BaseModel):
    """A probe's answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ready"}]})

    status: ProbeState


def _probe_problems(unavailable: str) -> dict[int | str, dict[str, Any]]:
    """A probe's problems; its 503 example says why it is unavailable."""
    return problem_responses(
        422, 500, 503, examples={503: ("service-unavailable", "Service unavailable", unavailable)}
    )


@router.get(
    "/healthz",
    response_model=ProbeStatus,
    operation_id="getHealth",
    summary="Process up",
    description="Liveness: answers 200 `ok` while the process serves requests; touches "
    "nothing else. With the embedded PostgreSQL (no `DATABASE_URL`), the process restarts "
    "it when it dies; if it stays down longer than `RELINK_EMBEDDED_DB_UNHEALTHY_AFTER_SECONDS`"
    " this answers a 503 problem, so that an orchestrator restarts the process.",
    openapi_extra=NO_CREDENTIALS,
    responses=_probe_problems(
        "The embedded PostgreSQL has been down for 61 s and could not be restarted; "
        "restart this process."
    ),
)
async def healthz(request: Request) -> ProbeStatus:
    supervisor: EmbeddedPostgresSupervisor | None = getattr(
        request.app.state, "embedded_postgres", None
    )
    if supervisor is not None and not supervisor.healthy:
        raise ServiceUnavailable(
            f"The embedded PostgreSQL has been down for {supervisor.down_for:.0f} s and could "
            "not be restarted; restart this process.",
            headers={"Retry-After": "5"},
        )
    return ProbeStatus(status=ProbeState.ok)


@router.get(
    "/readyz",
    response_model=ProbeStatus,
    operation_id="getReadiness",
    summary="The database answers",
    description="Readiness: 200 `ready` when the database answers within 2 seconds, else "
    "a 503 problem with `Retry-After`.",
    openapi_extra=NO_CREDENTIALS,
    responses=_probe_problems("The database does not answer."),
)
async def readyz(db: DatabaseDep) -> ProbeStatus:
    if not await db.ping(within_seconds=2.0):
        raise ServiceUnavailable("The database does not answer.", headers={"Retry-After": "5"})
    return ProbeStatus(status=ProbeState.ready)
