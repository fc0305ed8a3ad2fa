"""/sources: the customer a source record belongs to (the crosswalk, read the other way)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from api.auth import Role
from api.deps import ReaderRole, StoreDep, mask_of, refusals
from api.models import Profile
from api.routes.customers import JSONText

router = APIRouter(prefix="/sources", tags=["sources"], responses=refusals(Role.reader))


@router.get("/{source}/{source_id}", response_model=Profile, responses={404: {"description": "No such record."}},
            summary="The customer of a source record")
async def get_source_record(source: str, source_id: str, caller: ReaderRole, store: StoreDep,
                            request: Request) -> Response:
    """The profile of the customer that a source's record (by its key in that source) was resolved to."""
    doc = store.by_source(source, source_id, mask_of(request, caller))  # a primary-key join, as in get_customer
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no published record {source_id!r} in source {source!r}")
    return JSONText(doc)
