"""The baseline: a bare FastAPI app returning a constant, served by uvicorn in one process
(``uvicorn bench.bare:app``), as relink-api is."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def constant() -> dict[str, bool]:
    """The same small JSON object every time."""
    return {"ok": True}
