"""The FastAPI app: `create_app(cfg)` wires the state and includes one router per resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from api.audit_log import AuditLog
from api.auth import keys_of
from api.deps import NOT_PUBLISHED
from api.docs import add_docs
from api.reader import BadQuery, ServingReader
from api.review_desk import ReviewDesk
from api.routes import audit, customers, erasure, health, review, sources
from cdp.config import Config, load_config
from serving.audit import write_engine

DESCRIPTION = """Golden customer profiles and their 360° view, read from the last published version.

Send an API key in the `X-API-Key` header (roles reader < steward < admin); `/health` needs none.
Readers see emails, phones and tax ids masked unless their key carries `pii`. Stewards work the review
queue under `/review`: their decisions are kept across publishes and honoured by the next run, and
every decision and erasure is in `/audit`. Admins erase a customer (`DELETE /customers/{id}`) and answer
access requests (`GET /customers/{id}/export`)."""


def create_app(cfg: Config) -> FastAPI:
    """The API over the serving store named by `cfg.serving`, with keys from cfg.api.keys and $CDP_API_KEYS."""
    reader = ServingReader(cfg.serving)
    writer = write_engine(cfg.serving)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        reader.close()
        writer.dispose()

    app = FastAPI(title="cdp", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.config = cfg
    app.state.keys = keys_of(cfg)
    app.state.reader = reader
    app.state.writer = writer
    app.state.review = ReviewDesk(reader.engine, writer)
    app.state.audit = AuditLog(reader.engine)
    app.add_exception_handler(BadQuery, _bad_query)
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    app.add_exception_handler(sa.exc.ProgrammingError, _store_unavailable)
    for module in (health, customers, erasure, sources, review, audit):
        app.include_router(module.router)
    add_docs(app)  # after the routers: a request for data is matched before the static mount is tried
    return app


def from_environment() -> FastAPI:
    """The API over the config of $CDP_CONFIG (else ./cdp.yaml): the factory for several worker processes,
    `uvicorn --factory api.main:from_environment --workers 2` (each worker builds its own app and pool)."""
    return create_app(load_config())


async def _bad_query(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """503: nothing has been published yet, or the store cannot be reached (then the driver's first line).

    Asked only once a read has failed, so the hot path pays nothing for it. A plain `def`: Starlette
    runs it in the thread pool, where asking an unreachable server for the version may wait.
    """
    reader: ServingReader = request.app.state.reader
    try:
        empty = reader.version() is None
    except sa.exc.DBAPIError:  # the store cannot even say: the read's own error tells more
        empty = False
    detail = NOT_PUBLISHED if empty else "serving store unavailable: " + str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": detail}, status.HTTP_503_SERVICE_UNAVAILABLE)
