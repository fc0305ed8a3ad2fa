"""/customers: profiles by id, search, and the interaction timeline."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.auth import Role
from api.deps import (
    PII_SEARCH,
    UNANSWERABLE,
    ReaderRole,
    SearchingReader,
    StoreDep,
    mask_of,
    refusals,
    refuse_pii_search,
)
from api.models import Profile, ProfilePage, TimelinePage
from api.reader import CHURN_RISK, LEVELS, LOYALTY, TIERS, ServingReader
from api.search import search_keys

router = APIRouter(prefix="/customers", tags=["customers"], responses=refusals(Role.reader))

MOVED: dict[int | str, dict[str, Any]] = {
    301: {"description": "The id was merged into another customer: Location (a path on this server) names the "
                         "survivor."},
    404: {"description": "No such customer."}}
SEGMENTS = (f"Segments (repeat to combine): {', '.join(f'`{t}:{lv}`' for t in TIERS for lv in LEVELS)} "
            f"(high = top 20%, mid = next 30%); loyalty classes {', '.join(f'`{c}`' for c in LOYALTY)}; "
            f"`{CHURN_RISK}`.")


class JSONText(Response):
    """A response whose body is JSON text already (as stored), sent without re-serialising."""

    media_type = "application/json"


@router.get("/{customer_id}", response_model=Profile, responses=MOVED, summary="A customer's golden profile")
async def get_customer(customer_id: str, caller: ReaderRole, request: Request) -> Response:
    """Golden attributes, their lineage, the source records and traits of one customer.

    The `api.pii` attributes are masked unless the key carries `pii` or a steward role.
    """
    # A primary-key read from the pooled store takes tens of microseconds: less than the hand-off
    # to the thread pool that a `def` route would cost, so it runs on the event loop. The store is
    # taken from the app's state, not through StoreDep: FastAPI solves every dependency per request,
    # and on this, the busiest route, one more costs ~10% of its throughput (bench/api_load.py).
    store: ServingReader = request.app.state.reader
    doc = store.profile(customer_id, mask_of(request, caller))
    if doc is None:
        return _moved(store, customer_id, request, "get_customer")
    return JSONText(doc)


@router.get("", response_model=ProfilePage, responses={**PII_SEARCH, **UNANSWERABLE}, summary="Search customers")
async def list_customers(
    caller: SearchingReader,
    store: StoreDep,
    request: Request,
    email: Annotated[str | None, Query(description="Any spelling: trimmed, lower-cased, Gmail dots folded")] = None,
    phone: Annotated[str | None, Query(description="Any layout; read in `country` unless it starts with +")] = None,
    name: Annotated[str | None, Query(description="'First Last' or 'LAST, First' (nicknames folded); "
                                                  "one word searches surnames")] = None,
    country: Annotated[str, Query(description="Default country (ISO-2) of a phone without +country code")] = "US",
    segment: Annotated[list[str], Query(description=SEGMENTS)] = [],  # noqa: B006 (FastAPI copies defaults)
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    """Profiles matching every given value and segment, by customer id; no filter lists everyone.

    Query values are normalised exactly as ingestion normalised the data, and matched against
    every source record of a customer, not only the golden values. Searching by an attribute the key
    sees masked (`api.pii`) is refused: it would confirm guesses of the masked values.
    Searches have a rate limit of their own, stricter than the key's.
    """
    refuse_pii_search(request, caller, {"email": email, "phone": phone, "name": name})
    try:
        keys = search_keys(email, phone, name, country.upper())
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    args = (keys, segment, mask_of(request, caller), limit, cursor)
    # A search by one value is one statement compiled once, as GET by id: cheaper on the event loop than the
    # hand-off to the thread pool. Segments and cursors may scan, so those go to the pool.
    page = store.search(*args) if len(keys) == 1 and not segment and cursor is None else \
        await run_in_threadpool(store.search, *args)
    return JSONText(f'{{"items":[{",".join(page.items)}],"next_cursor":{json.dumps(page.next_cursor)}}}')


@router.get("/{customer_id}/timeline", response_model=TimelinePage, responses={**MOVED, **UNANSWERABLE},
            summary="A customer's interactions across silos")
def customer_timeline(
    customer_id: str,
    caller: ReaderRole,
    store: StoreDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> TimelinePage | Response:
    """Orders, invoices, tickets... from every silo, newest first."""
    page = store.timeline(customer_id, limit, cursor, mask_of(request, caller))
    if not page.items and cursor is None and not store.exists(customer_id):
        return _moved(store, customer_id, request, "customer_timeline")
    return TimelinePage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


def _moved(store: ServingReader, customer_id: str, request: Request, route: str) -> Response:
    """301 to the same route of the surviving customer, keeping the query; 404 when the id was never live.

    The Location is a path, not a URL: one built from the request's Host header would send the client
    wherever a forged Host said.
    """
    survivor = store.redirect(customer_id)
    if survivor is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id!r}")
    path = request.scope.get("root_path", "") + request.app.url_path_for(route, customer_id=survivor)
    query = request.url.query
    return RedirectResponse(f"{path}?{query}" if query else path, status.HTTP_301_MOVED_PERMANENTLY)
