"""/health: liveness and the published version, without a key."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import NOT_PUBLISHED, Responses, StoreDep
from api.models import Health, Problem

router = APIRouter(tags=["health"])
UNREACHABLE: Responses = {503: {"model": Problem, "description": "The serving store cannot be reached."}}


@router.get("/health", response_model=Health, response_model_exclude_none=True,
            summary="Liveness and the version served", responses=UNREACHABLE)
def health(store: StoreDep) -> Health:
    """`ok` with the published version, or `empty` (and what to do) when nothing has been published yet."""
    version = store.version()
    if version is None:
        return Health(status="empty", detail=NOT_PUBLISHED)
    return Health(status="ok", version=version.version, published_at=version.published_at,
                  customers=version.customers, records=version.records)
