"""The FastAPI app: `create_app(cfg)` wires the state and includes one router per resource.

Hostile input is answered with a 4xx, never a 5xx: a forged cursor 400, a value the store cannot hold
(a NUL in an id, for PostgreSQL) 400, a body that fails validation 422 without echoing what was sent.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit_log import AuditLog
from api.auth import keys_of
from api.deps import NOT_PUBLISHED
from api.docs import add_docs
from api.limits import Limiter
from api.mask import Mask
from api.matcher import Matcher
from api.reader import BadCursor, BadQuery, ServingReader
from api.review_desk import ReviewDesk
from api.routes import audit, changes, customers, edits, erasure, health, resolve, review, sources
from api.steward import add_steward
from cdp.config import Config, load_config
from cdp.sealing import SealedStore, Sealer
from serving.audit import write_engine

DESCRIPTION = """Golden customer profiles and their 360° view, read from the last published version.

Send an API key in the `X-API-Key` header (roles reader < steward < admin); `/health` needs none.
Readers see the personal attributes of `api.pii` (by default email, phone, tax id, birth date, street) masked
unless their key carries `pii`, and may search by them only with `pii`. Every key has a rate limit (429 with
`Retry-After`), searches a stricter one. Stewards work the review queue under `/review`: their decisions are
kept across publishes and honoured by the next run, and every decision and erasure is in `/audit`. Admins
erase a customer (`DELETE /customers/{id}`) and answer access requests (`GET /customers/{id}/export`).
`POST /resolve` answers whether a record is already a customer, scored as the batch model scores it.
`/changes` is the change feed: what each publish changed, in order, resumable by cursor."""


def create_app(cfg: Config) -> FastAPI:
    """The API over the serving store named by `cfg.serving`, with keys from cfg.api.keys and $CDP_API_KEYS."""
    reader = ServingReader(cfg.serving, sealer=Sealer.from_env())
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
    app.state.mask = Mask.of(cfg.api.pii)
    app.state.rate_limit = Limiter(cfg.api.rate_limit) if cfg.api.rate_limit else None
    app.state.search_rate_limit = Limiter(cfg.api.search_rate_limit) if cfg.api.search_rate_limit else None
    app.state.reader = reader
    app.state.writer = writer
    app.state.review = ReviewDesk(reader.engine, writer, reader.sealer)
    app.state.audit = AuditLog(reader.engine)
    app.state.matcher = Matcher(reader, cfg.state_dir / "models")
    app.add_exception_handler(BadCursor, _bad_cursor)
    app.add_exception_handler(BadQuery, _bad_query)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(sa.exc.DataError, _unstorable)
    app.add_exception_handler(sa.exc.OperationalError, _store_unavailable)
    app.add_exception_handler(SealedStore, _sealed)
    app.add_exception_handler(sa.exc.ProgrammingError, _store_unavailable)
    for module in (health, customers, edits, erasure, sources, resolve, review, audit, changes):
        app.include_router(module.router)
    add_steward(app)  # the HTML pages under /steward, out of the OpenAPI document
    add_docs(app)  # after the routers: a request for data is matched before the static mount is tried
    app.add_middleware(HeadAsGet)
    return app


class HeadAsGet:
    """HEAD wherever GET: the request is answered as a GET whose body is left out (its headers, Content-Length
    included, stay). OpenAPI lists GET alone, as HTTP implies HEAD. A pure ASGI layer: a GET pays one check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            await send({**message, "body": b""} if message["type"] == "http.response.body" else message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def from_environment() -> FastAPI:
    """The API over the config of $CDP_CONFIG (else ./cdp.yaml): the factory for several worker processes,
    `uvicorn --factory api.main:from_environment --workers 2` (each worker builds its own app and pool)."""
    return create_app(load_config())


async def _bad_query(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _bad_cursor(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_400_BAD_REQUEST)


async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
    """400: a value the store refuses as data (PostgreSQL takes no NUL in text); the value is not echoed."""
    return JSONResponse({"detail": "a value in the request cannot be looked up (e.g. it holds a NUL character)"},
                        status.HTTP_400_BAD_REQUEST)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's validation errors, less what was sent (`input`: it may be personal) and with every
    string made encodable (a lone surrogate in a JSON body would fail FastAPI's own handler, a 500)."""
    sent = exc.errors() if isinstance(exc, RequestValidationError) else []
    errors = [{k: v for k, v in error.items() if k not in ("input", "url")} for error in sent]
    return JSONResponse({"detail": _encodable(errors)}, status.HTTP_422_UNPROCESSABLE_CONTENT)


def _encodable(value: Any) -> Any:
    """`value` as JSON can carry it: strings with lone surrogates escaped, other objects as their text."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode()
    if isinstance(value, dict):
        return {_encodable(str(k)): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return _encodable(str(value))


async def _sealed(request: Request, exc: Exception) -> JSONResponse:
    """503: the store is encrypted under a data key this process lacks (none, or another): a setting to fix on
    the server, said as such rather than a 500 or undecryptable text."""
    return JSONResponse({"detail": str(exc)}, status.HTTP_503_SERVICE_UNAVAILABLE)


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
