"""/audit: the trail of stewards' decisions, merges and splits and admins' erasures, for stewards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import Role
from api.deps import UNANSWERABLE, AuditDep, StewardRole, refusals
from api.models import AuditPage

router = APIRouter(prefix="/audit", tags=["audit"], responses=refusals(Role.steward))


@router.get("", response_model=AuditPage, responses=UNANSWERABLE, summary="The audit trail")
def list_audit(
    caller: StewardRole,
    audit: AuditDep,
    customer_id: Annotated[str | None, Query(description="entries about this customer (either side of a "
                                                         "decision)")] = None,
    who: Annotated[str | None, Query(description="entries by this key name, e.g. steward:0123456789ab")] = None,
    since: Annotated[dt.datetime | None, Query(description="RFC 3339; entries at or after it (no zone: UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> AuditPage:
    """Every decision, merge, split and erasure: who (the key's name, never the key), when, what and the note,
    newest first. Kept across publishes; nothing is ever removed from it."""
    page = audit.entries(customer_id, who, since, limit, cursor)
    return AuditPage.model_validate({"items": page.items, "next_cursor": page.next_cursor})
