"""HTTP routes for relink sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from relink_api.deps import DatabaseDep, PrincipalDep, SettingsDep, StripeDep
from relink_api.errors import problem_responses
from relink_api.relink import service
from relink_api.relink.schemas import (
    RelinkSessionComplete,
    RelinkSessionCreate,
    RelinkSessionCreated,
    RelinkSessionRead,
)

router = APIRouter(tags=["relink-sessions"])

SessionId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="relink-api's session id.",
        examples=["rls_3f9c2a7d41b8e6f0a2c4d5e6"],
    ),
]


@router.post(
    "/v1/relink-sessions",
    response_model=RelinkSessionCreated,
    status_code=status.HTTP_201_CREATED,
    operation_id="createRelinkSession",
    summary="Start a relink for one of the caller's accounts",
    responses=problem_responses(401, 404, 409, 422, 500, 502, 503),
)
async def create_relink_session(
    body: RelinkSessionCreate,
    response: Response,
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
    settings: SettingsDep,
) -> RelinkSessionCreated:
    # The body carries a client_secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return await service.create_session(db, stripe, settings, principal=principal, request=body)


@router.post(
    "/v1/relink-sessions/{session_id}/complete",
    response_model=RelinkSessionRead,
    operation_id="completeRelinkSession",
    summary="Verify the outcome of a relink with Stripe",
    responses=problem_responses(401, 404, 409, 422, 500, 502, 503),
)
async def complete_relink_session(
    session_id: SessionId,
    principal: PrincipalDep,
    db: DatabaseDep,
    stripe: StripeDep,
    body: Annotated[RelinkSessionComplete | None, Body()] = None,
) -> RelinkSessionRead:
    return await service.complete_session(
        db, stripe, principal=principal, session_id=session_id, hint=body
    )


@router.get(
    "/v1/relink-sessions/{session_id}",
    response_model=RelinkSessionRead,
    operation_id="getRelinkSession",
    summary="Get a relink session and its outcome",
    responses=problem_responses(401, 404),
)
async def get_relink_session(
    session_id: SessionId, principal: PrincipalDep, db: DatabaseDep
) -> RelinkSessionRead:
    return await service.get_session(db, principal=principal, session_id=session_id)
