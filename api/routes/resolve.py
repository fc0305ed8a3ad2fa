"""/resolve: is this person already a customer? One record in, the best matching customers out; nothing written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Role
from api.deps import UNANSWERABLE, ReaderRole, Responses, mask_of, refusals
from api.matcher import Matcher, NoModel
from api.models import Evidence, Problem

router = APIRouter(tags=["resolve"], responses=refusals(Role.reader))


class RecordIn(BaseModel):
    """Canonical attributes of one record, as a source would send them (any spelling; standardised as ingestion
    standardises a source's values). An attribute not listed here is refused (422 naming it)."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = Field(None, description="a generational suffix (Jr, III) is kept apart")
    full_name: str | None = Field(None, description="'First Middle Last' or 'LAST, First': split into its parts")
    email: str | None = None
    phone: str | None = Field(None, description="any layout; read in `country` unless it starts with +")
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = Field(None, description="ISO code or English name; the query's `country` when absent")
    birth_date: str | None = Field(None, description="ISO 8601 date, YYYY-MM-DD")
    tax_id: str | None = None


class Standardised(BaseModel):
    """The record as ingestion standardises it (the `api.pii` attributes masked for readers without pii)."""

    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    name_suffix: str | None = None
    first_name_root: str | None = None
    email: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    country: str | None = None
    tax_id: str | None = None
    birth_date: str | None = None


class MatchOut(BaseModel):
    """A customer the record resolves to, through its best-scoring record."""

    customer_id: str
    match_probability: float = Field(description="as the batch model scores the pair (same model, same formula)")
    match_weight: float = Field(description="log2 of the Bayes factor, prior included")
    source: str = Field(description="the source of the customer's record that matched best")
    source_id: str
    explanation: list[Evidence] = Field(description="per comparison, in model order, as in the review queue")


class Resolution(BaseModel):
    """The best matching customers, best first (any probability: read it against your own threshold)."""

    record: Standardised
    matches: list[MatchOut]


NO_MATCHER: Responses = {503: {"model": Problem, "description": "Nothing published yet, or no trained match model."}}


@router.post("/resolve", response_model=Resolution, responses={**UNANSWERABLE, **NO_MATCHER},
             summary="The customers a record would match")
async def resolve(
    body: RecordIn,
    caller: ReaderRole,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=50, description="how many customers at most")] = 5,
    country: Annotated[str, Query(description="default country (ISO-2) of phones and addresses")] = "US",
) -> Resolution:
    """Standardise the record exactly as ingestion does, find candidates through the model's blocking rules,
    score each with the model in use, and answer the best customers with the per-comparison explanation.

    Nothing is written: the record is not kept. A birth date that is not an ISO date ingestion would keep
    answers 422 naming `birth_date`, as does an attribute that is not canonical.
    """
    values = body.model_dump(exclude_none=True)
    if not values:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "give at least one attribute of the record")
    matcher: Matcher = request.app.state.matcher
    try:
        staged = matcher.standardise(values, country.upper())
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    # Scoring takes a millisecond or two of CPU: on the event loop, as GET by id. In the thread pool, requests
    # contend for the GIL, which numpy's index lookups drop and then wait up to the switch interval (5 ms) to
    # take back: p50 rose fivefold at 8 clients (bench/resolve_load.py). Only the check of the published version
    # and the index's build (seconds) go to the pool.
    try:
        resolver = matcher.ready() or await run_in_threadpool(matcher.current)
        found = matcher.resolve(staged, limit, resolver)
    except NoModel as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    shown = {k: (v.isoformat() if k == "birth_date" and v is not None else v) for k, v in staged.items()}
    mask = mask_of(request, caller)
    matches = [MatchOut(customer_id=m.customer_id, match_probability=m.score.match_probability,
                        match_weight=m.score.match_weight, source=m.source, source_id=m.source_id,
                        explanation=[Evidence(**e) for e in m.score.explanation]) for m in found]
    return Resolution(record=Standardised(**(mask.attributes(shown) if mask else shown)), matches=matches)
