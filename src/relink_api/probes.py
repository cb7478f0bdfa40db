"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from relink_api.deps import DatabaseDep
from relink_api.errors import ServiceUnavailable, problem_responses

router = APIRouter(tags=["probes"])


class ProbeStatus(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz", response_model=ProbeStatus, operation_id="getHealth", summary="Process up")
async def healthz() -> ProbeStatus:
    return ProbeStatus(status="ok")


@router.get(
    "/readyz",
    response_model=ProbeStatus,
    operation_id="getReadiness",
    summary="The database answers",
    responses=problem_responses(503),
)
async def readyz(db: DatabaseDep) -> ProbeStatus:
    if not await db.ping(within_seconds=2.0):
        raise ServiceUnavailable("The database does not answer.", headers={"Retry-After": "5"})
    return ProbeStatus(status="ready")
