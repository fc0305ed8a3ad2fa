"""/changes: the change feed, what each publish changed, for readers (serving.changes records it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import Role
from api.deps import UNANSWERABLE, ReaderRole, StoreDep, mask_of, refusals
from api.models import ChangePage
from api.reader import BadQuery, decode_cursor, encode_cursor
from cdp.schema import CHANGE_TYPES
from serving.changes import read_changes

router = APIRouter(prefix="/changes", tags=["changes"], responses=refusals(Role.reader))

FEED_CURSOR = (int,)
"""A feed cursor holds the id of the last event served."""


def wanted_types(given: list[str]) -> list[str]:
    """The types asked for (repeated or comma-separated); BadQuery naming an unknown one."""
    types = [t.strip() for value in given for t in value.split(",") if t.strip()]
    unknown = [t for t in types if t not in CHANGE_TYPES]
    if unknown:
        raise BadQuery(f"unknown change type {unknown[0]!r}; known: customer.created, customer.merged, customer.split, "
                       "customer.removed, customer.erased, customer.updated, segment.entered:NAME, segment.left:NAME "
                       "(NAME a segment of GET /customers?segment=)")
    return types


@router.get("", response_model=ChangePage, responses=UNANSWERABLE, summary="What each publish changed")
def list_changes(
    caller: ReaderRole,
    store: StoreDep,
    request: Request,
    since: Annotated[str | None, Query(description="next_cursor of the previous call; none: from the first change")]
    = None,
    types: Annotated[list[str], Query(description="only these types, e.g. segment.entered:churn_risk,customer.merged"
                                                  " (repeated or comma-separated)")] = [],  # noqa: B006 (FastAPI copies)
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    """Customers created, merged (with the ids merged into the survivor), split, removed, erased and updated (which
    attributes), and segments entered and left, in the order they happened, each with an `event_id`. Resume
    from `next_cursor`; poll with it to get only what came since. The first publish is the baseline: it records
    no changes. A webhook (cdp.yaml `webhooks:`) receives the same events."""
    after = decode_cursor(since, FEED_CURSOR)[0] if since is not None else 0
    wanted = wanted_types(types)
    with store.engine.connect() as conn:
        items = read_changes(conn, after, wanted, limit)
    mask = mask_of(request, caller)
    if mask is not None:
        for item in items:
            if "attributes" in item:
                item["attributes"] = mask.attributes(item["attributes"])
    page = ChangePage.model_validate({"items": items, "next_cursor": encode_cursor([items[-1]["event_id"]]) if items
                                      else since})
    # An event shows only the members of its type (no merged_ids: null on an update); the page keeps next_cursor.
    return JSONResponse({"items": [item.model_dump(mode="json", exclude_none=True) for item in page.items],
                         "next_cursor": page.next_cursor})
