"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files installed with the package, so
they work with no network: FastAPI's own pages load their scripts from a CDN, inline.

The scripts are the ones ``fastapi-offline`` ships (it packages Swagger UI's and ReDoc's
distributions); each page starts its viewer from a small script of ours, so no inline
script is needed and the pages keep a strict Content-Security-Policy.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR_PATH = "/docs-assets/vendor"
OURS_PATH = "/docs-assets"
_OURS = Path(__file__).with_name("docs_assets")

# The viewers build their styles at run time (ReDoc injects <style> elements, both set
# style attributes) and ReDoc searches in a blob: worker; nothing leaves this origin.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _vendor_dir() -> Path:
    return Path(str(files("fastapi_offline").joinpath("static")))


def _page(title: str, body: str, scripts: tuple[str, ...], styles: tuple[str, ...] = ()) -> str:
    links = "".join(f'<link rel="stylesheet" href="{href}">' for href in styles)
    tags = "".join(f'<script src="{src}"></script>' for src in scripts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>{links}"
        f'<link rel="icon" href="/favicon.ico"></head><body>{body}{tags}</body></html>'
    )


def mount_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` and the files they load (needs ``docs_url`` and
    ``redoc_url`` off on the app, so FastAPI's CDN pages are not served instead)."""
    title = app.title
    # Relative asset URLs: the pages also work under a proxy's path prefix.
    swagger = _page(
        f"{title} · API reference (Swagger UI)",
        '<div id="swagger-ui"></div>',
        scripts=(f"{VENDOR_PATH[1:]}/swagger-ui-bundle.js", f"{OURS_PATH[1:]}/swagger-init.js"),
        styles=(f"{VENDOR_PATH[1:]}/swagger-ui.css",),
    )
    redoc = _page(
        f"{title} · API reference (ReDoc)",
        '<div id="redoc"></div>',
        scripts=(f"{VENDOR_PATH[1:]}/redoc.standalone.js", f"{OURS_PATH[1:]}/redoc-init.js"),
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger, headers=DOCS_HEADERS)

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return HTMLResponse(redoc, headers=DOCS_HEADERS)

    app.mount(VENDOR_PATH, StaticFiles(directory=_vendor_dir()), name="docs-vendor")
    app.mount(OURS_PATH, StaticFiles(directory=_OURS), name="docs-assets")
