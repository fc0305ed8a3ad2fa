"""The FastAPI app: `create_app(cfg)` wires the state and includes one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api.auth import keys_of
from api.reader import BadQuery, ServingReader
from api.review_desk import ReviewDesk
from api.routes import customers, health, review, sources
from cdp.config import Config, load_config

DESCRIPTION = """Golden customer profiles and their 360° view, read from the last published version.

Send an API key in the `X-API-Key` header (roles reader < steward < admin); `/health` needs none.
Readers see emails, phones and tax ids masked unless their key carries `pii`. Stewards work the review
queue under `/review`: their decisions are kept across publishes and honoured by the next run."""


def create_app(cfg: Config) -> FastAPI:
    """The API over the serving store named by `cfg.serving`, with keys from cfg.api.keys and $CDP_API_KEYS."""
    reader = ServingReader(cfg.serving)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        reader.close()

    app = FastAPI(title="cdp", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.config = cfg
    app.state.keys = keys_of(cfg)
    app.state.reader = reader
    app.state.review = ReviewDesk(reader.engine)
    app.add_exception_handler(BadQuery, _bad_query)
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    app.add_exception_handler(sa.exc.ProgrammingError, _store_unavailable)
    for module in (health, customers, sources, review):
        app.include_router(module.router)
    return app


def from_environment() -> FastAPI:
    """The API over the config of $CDP_CONFIG (else ./cdp.yaml): the factory for several worker processes,
    `uvicorn --factory api.main:from_environment --workers 2` (each worker builds its own app and pool)."""
    return create_app(load_config())


async def _bad_query(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The store is missing a table (nothing published yet) or cannot be reached."""
    first = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"serving store unavailable: {first}"}, status.HTTP_503_SERVICE_UNAVAILABLE)
