"""Dependencies the routes declare, defined once as `Annotated` aliases.

The caller dependencies are `async def` on purpose: they do no I/O (a dict lookup), and FastAPI
would run a plain `def` dependency in the thread pool, a hand-off that costs more than the check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.audit_log import AuditLog
from api.auth import Caller, Role
from api.models import Problem
from api.reader import ServingReader
from api.review_desk import ReviewDesk
from cdp.config import Config

Responses = dict[int | str, dict[str, Any]]
"""The `responses` of a route or router: the answers OpenAPI lists beside the successful one."""
NOT_PUBLISHED = "nothing published yet: run `cdp run` first"
UNAVAILABLE: Responses = {503: {"model": Problem, "description": f"The serving store holds {NOT_PUBLISHED}, "
                                                                 "or cannot be reached."}}
UNANSWERABLE: Responses = {422: {
    "description": "A value the API cannot answer (e.g. a cursor it did not give out, an unknown segment, an "
                   "unreadable email), or a parameter of the wrong type (FastAPI's validation errors).",
    "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Problem"},
                                                           {"$ref": "#/components/schemas/HTTPValidationError"}]}}}}}
"""The 422 of a route that refuses some values itself (api.reader.BadQuery) as well as by validation."""

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`key:role[:pii]`).")


def caller_of(request: Request, key: str | None) -> Caller:
    """The caller named by the X-API-Key header; 401 when it is missing or unknown."""
    caller = request.app.state.keys.get(key) if key else None
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "APIKey"})
    return caller


def require(role: Role) -> Callable[[Request, str | None], Awaitable[Caller]]:
    """A dependency admitting callers of `role` or higher; 401 without a known key, 403 for a lower role.

    One dependency over the header, not a chain (key -> caller -> role check): FastAPI solves each
    dependency per request, and on GET /customers/{id} every level cost about a tenth of the request.
    """

    async def check(request: Request, key: Annotated[str | None, Security(api_key_header)]) -> Caller:
        caller = caller_of(request, key)
        if caller.role < role:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role.name} role or higher")
        return caller

    return check


def refusals(role: Role) -> Responses:
    """The answers of a route that needs `role`: 401 without a known key, 403 below the role, 503 before a publish."""
    refused: Responses = {401: {"model": Problem, "description": "No X-API-Key header, or an unknown key."}}
    if role > Role.reader:  # every known key is at least a reader
        refused[403] = {"model": Problem, "description": f"The key's role is below {role.name}."}
    return {**refused, **UNAVAILABLE}


async def get_reader(request: Request) -> ServingReader:
    """The process's serving-store reader (one connection pool)."""
    return request.app.state.reader


async def get_review(request: Request) -> ReviewDesk:
    """The review queue and decisions, over the reader's pool."""
    return request.app.state.review


async def get_writer(request: Request) -> sa.Engine:
    """The process's engine for writes to the serving store (serving.audit.write_engine)."""
    return request.app.state.writer


async def get_audit(request: Request) -> AuditLog:
    """The audit trail, over the reader's pool."""
    return request.app.state.audit


async def get_config(request: Request) -> Config:
    """The loaded cdp.yaml."""
    return request.app.state.config


ReaderRole = Annotated[Caller, Depends(require(Role.reader))]
StewardRole = Annotated[Caller, Depends(require(Role.steward))]
AdminRole = Annotated[Caller, Depends(require(Role.admin))]
StoreDep = Annotated[ServingReader, Depends(get_reader)]
ReviewDep = Annotated[ReviewDesk, Depends(get_review)]
ConfigDep = Annotated[Config, Depends(get_config)]
WriterDep = Annotated[sa.Engine, Depends(get_writer)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
