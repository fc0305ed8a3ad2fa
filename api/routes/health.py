"""/health: liveness and the published version, without a key."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import StoreDep
from api.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness and the version served")
def health(store: StoreDep) -> Health:
    """`ok` with the published version, or `empty` when nothing has been published yet."""
    version = store.version()
    if version is None:
        return Health(status="empty")
    return Health(status="ok", version=version.version, published_at=version.published_at,
                  customers=version.customers, records=version.records)
