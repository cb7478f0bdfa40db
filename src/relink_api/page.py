"""The bundled relink page: its files, and the configuration it reads at start."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from relink_api.web.deps import SettingsDep
from relink_api.web.inputs import STRICT_QUERY
from relink_api.web.pages import PAGE_HEADERS
from relink_api.web.responses import problem_responses
from relink_api.web.security import NO_CREDENTIALS

# A 32x32 PNG icon (a white ring on the page's accent blue) in an .ico: what every browser
# asks for on its own, for the relink page and the hosted return pages alike.
FAVICON = Path(__file__).with_name("favicon.ico")
STRIPE_JS_URL = "https://js.stripe.com/v3"
SANDBOX_STRIPE_JS_PATH = "/sandbox/stripe.js"

router = APIRouter(tags=["page"], dependencies=[STRICT_QUERY])


class Mode(StrEnum):
    """Which Stripe the server talks to: its own offline ``sandbox``, Stripe's ``test`` mode,
    or ``live``."""

    sandbox = "sandbox"
    test = "test"
    live = "live"


class ClientConfig(BaseModel):
    """What a browser or app needs to start Stripe.js; nothing secret."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "publishable_key": "pk_test_123",
                    "stripe_js_url": "https://js.stripe.com/v3",
                    "mode": "test",
                }
            ]
        }
    )

    publishable_key: str | None = Field(description="Stripe.js key (pk_…).")
    stripe_js_url: str = Field(description="Where to load Stripe.js from.")
    mode: Mode


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> Response:
    return Response(
        FAVICON.read_bytes(),
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def static_dir() -> Path | None:
    """The page's files: packaged with the wheel, or the repository's static/ folder."""
    packaged = Path(__file__).parent / "_static"
    repository = Path(__file__).resolve().parents[2] / "static"
    for candidate in (packaged, repository):
        if (candidate / "index.html").is_file():
            return candidate
    return None


@router.get(
    "/v1/config",
    response_model=ClientConfig,
    operation_id="getClientConfig",
    summary="Configuration for the page and apps",
    description="Public, no token: the Stripe publishable key, where to load Stripe.js "
    "from (the sandbox's stand-in in sandbox mode) and which mode the server runs in.",
    openapi_extra=NO_CREDENTIALS,
    responses=problem_responses(422, 500),
)
async def get_client_config(settings: SettingsDep) -> ClientConfig:
    if settings.sandbox:
        return ClientConfig(
            publishable_key=settings.stripe_publishable_key,
            stripe_js_url=SANDBOX_STRIPE_JS_PATH,
            mode=Mode.sandbox,
        )
    return ClientConfig(
        publishable_key=settings.stripe_publishable_key,
        stripe_js_url=STRIPE_JS_URL,
        mode=Mode.live if settings.stripe_mode == "live" else Mode.test,
    )


def mount_page(app: FastAPI) -> None:
    """Serve the page at ``/`` and its files under ``/static`` (when they exist)."""
    directory = static_dir()
    if directory is None:
        return
    index = directory / "index.html"

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=directory), name="static")
