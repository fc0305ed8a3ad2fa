"""Dependencies the routes declare, defined once as `Annotated` aliases.

The caller dependencies are `async def` on purpose: they do no I/O (a dict lookup and a rate-limit
bucket), and FastAPI would run a plain `def` dependency in the thread pool, a hand-off that costs more
than the check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from api.audit_log import AuditLog
from api.auth import Caller, Role
from api.limits import Limiter, retry_after
from api.mask import Mask
from api.models import Problem
from api.reader import ServingReader
from api.review_desk import ReviewDesk
from api.search import pii_searched
from cdp.config import Config

Responses = dict[int | str, dict[str, Any]]
"""The `responses` of a route or router: the answers OpenAPI lists beside the successful one."""
NOT_PUBLISHED = "nothing published yet: run `cdp run` first"
UNAVAILABLE: Responses = {503: {"model": Problem, "description": f"The serving store holds {NOT_PUBLISHED}, "
                                                                 "cannot be reached, or is encrypted under a data "
                                                                 "key (CDP_DATA_KEY) this server lacks."}}
UNANSWERABLE: Responses = {422: {
    "description": "A value the API cannot answer (e.g. a cursor it did not give out, an unknown segment, an "
                   "unreadable email), or a parameter of the wrong type (FastAPI's validation errors).",
    "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Problem"},
                                                           {"$ref": "#/components/schemas/HTTPValidationError"}]}}}}}
"""The 422 of a route that refuses some values itself (api.reader.BadQuery) as well as by validation."""
BAD_REQUEST: Responses = {400: {"model": Problem, "description": "A cursor this API did not give out, or a value "
                                                                 "the serving store cannot hold (e.g. a NUL)."}}
PII_SEARCH: Responses = {403: {"model": Problem, "description": "A search by an attribute of `api.pii` (by default "
                                                                "email and phone) with a key without `pii`."}}
THROTTLED: Responses = {429: {
    "model": Problem, "description": "The key's rate limit (cdp.yaml `api.rate_limit`) is reached.",
    "headers": {"Retry-After": {"description": "Seconds until the key may ask again.", "schema": {"type": "integer"}}}}}

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`key:role[:pii]`).")


def caller_of(request: Request, key: str | None) -> Caller:
    """The caller named by the X-API-Key header; 401 when it is missing or unknown."""
    caller = request.app.state.keys.get(key) if key else None
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or unknown API key (header X-API-Key)",
                            headers={"WWW-Authenticate": "APIKey"})
    return caller


def require(role: Role, search: bool = False) -> Callable[[Request, str | None], Awaitable[Caller]]:
    """A dependency admitting callers of `role` or higher; 401 without a known key, 403 for a lower role, 429
    past the key's rate limit (and, for a `search`, past its search limit too).

    One dependency over the header, not a chain (key -> caller -> role check): FastAPI solves each
    dependency per request, and on GET /customers/{id} every level cost about a tenth of the request.
    """

    async def check(request: Request, key: Annotated[str | None, Security(api_key_header)]) -> Caller:
        caller = caller_of(request, key)
        if caller.role < role:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {role.name} role or higher")
        throttle(request.app.state.rate_limit, caller, "requests")
        if search:
            throttle(request.app.state.search_rate_limit, caller, "searches")
        return caller

    return check


def throttle(limiter: Limiter | None, caller: Caller, what: str) -> None:
    """Take one of the caller's tokens from `limiter` (None: no limit); 429 with Retry-After when none is left."""
    if limiter is None:
        return
    wait = limiter.wait(caller.who)
    if wait:
        after = retry_after(wait)
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"rate limit reached: this key may make {limiter.limit.per_minute} {what} a minute "
                            f"(bursts of {limiter.limit.burst}); retry in {after} s", headers={"Retry-After": after})


def mask_of(request: Request, caller: Caller) -> Mask | None:
    """The masking of the app's PII attributes for a caller who may not see them; None for one who may."""
    return None if caller.sees_pii else request.app.state.mask


def refuse_pii_search(request: Request, caller: Caller, given: dict[str, str | None]) -> None:
    """403 naming the parameters (never their values) that search by an attribute the caller sees masked."""
    if caller.sees_pii:
        return
    refused = pii_searched(given, request.app.state.mask.pii)
    if refused:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            f"searching by {' or '.join(refused)} needs a key with the pii flag (key:reader:pii) "
                            f"or a steward's: this key sees those values masked")


def refusals(role: Role) -> Responses:
    """The answers of a route that needs `role`: 400 for a value the store cannot take, 401 without a known key,
    403 below the role, 429 past the key's rate limit, 503 before a publish."""
    refused: Responses = {401: {"model": Problem, "description": "No X-API-Key header, or an unknown key."}}
    if role > Role.reader:  # every known key is at least a reader
        refused[403] = {"model": Problem, "description": f"The key's role is below {role.name}."}
    return {**BAD_REQUEST, **refused, **THROTTLED, **UNAVAILABLE}


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
SearchingReader = Annotated[Caller, Depends(require(Role.reader, search=True))]
"""A reader whose request is a search: it draws on the search rate limit as well."""
StewardRole = Annotated[Caller, Depends(require(Role.steward))]
AdminRole = Annotated[Caller, Depends(require(Role.admin))]
StoreDep = Annotated[ServingReader, Depends(get_reader)]
ReviewDep = Annotated[ReviewDesk, Depends(get_review)]
ConfigDep = Annotated[Config, Depends(get_config)]
WriterDep = Annotated[sa.Engine, Depends(get_writer)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
