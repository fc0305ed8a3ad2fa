"""/customers/{id}: erasure (DELETE) and access requests (GET .../export), for admins."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse

from api.access import export
from api.auth import Role
from api.deps import AdminRole, AuditDep, ConfigDep, ReviewDep, StoreDep, WriterDep, refusals
from api.models import CustomerExport, Erasure, Problem
from cdp.datakey import data_key
from serving.erasure import OtherKey, erase, erase_from_warehouse

router = APIRouter(prefix="/customers", tags=["erasure"], responses=refusals(Role.admin))

NOT_LIVE: dict[int | str, dict[str, Any]] = {404: {"description": "No such customer (or erased already)."}}


@router.delete("/{customer_id}", response_model=Erasure, summary="Erase a customer",
               responses={**NOT_LIVE, 308: {"description": "The id was merged into another customer: Location names "
                                                           "the survivor; DELETE it to erase the person."},
                          409: {"model": Problem, "description": "Earlier erasures were hashed under another data key "
                                                                 "(CDP_DATA_KEY): nothing was erased."}})
def erase_customer(customer_id: str, caller: AdminRole, store: StoreDep, writer: WriterDep, cfg: ConfigDep,
                   request: Request,
                   note: Annotated[str | None, Query(max_length=2000, description="why, e.g. the request's "
                                                                                   "reference")] = None) -> Any:
    """Erase a person: their source records, profile, lineage, timeline, traits, crosswalk rows, review
    candidates and decisions leave every published table at once, in one transaction, while the API keeps
    serving everyone else. Afterwards the id answers 404, as do its records under /sources, and search
    does not find it.

    The records' keyed hashes (HMAC-SHA256 of source and record key with the data key, never values) go on
    the suppression list, so later runs quarantine them (reason `erased`) even from unchanged sources. The
    warehouse (raw, staged, interactions, pairs, clusters, golden tables...) is purged right away when no
    run holds it (`warehouse: erased`); otherwise (`pending`) the next run purges it before loading anything.
    The audit records who erased which customer id and when, not what was erased.

    A merged-away id answers 308 to its survivor rather than erasing it: the admin sees, and confirms, which
    customer (with every record merged into it) is erased.
    """
    # A plain `def`: the write may wait for a running publish to commit, and the warehouse purge is heavy.
    key = data_key(cfg.state_dir)
    try:
        erased = erase(writer, customer_id, key, caller.who, note)
    except OtherKey as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    if erased is None:
        survivor = store.redirect(customer_id)
        if survivor is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id!r}")
        location = f"{request.scope.get('root_path', '')}{router.prefix}/{quote(survivor, safe='')}"
        return RedirectResponse(location, status.HTTP_308_PERMANENT_REDIRECT)
    purged = erase_from_warehouse(cfg, key, erased.hashes)
    return Erasure(customer_id=customer_id, records=erased.records, warehouse="erased" if purged else "pending",
                   audit_id=erased.audit_id)


@router.get("/{customer_id}/export", response_model=CustomerExport, summary="Everything held about a customer",
            responses={**NOT_LIVE, 301: {"description": "The id was merged into another customer: Location names "
                                                       "the survivor's export."}})
def export_customer(customer_id: str, caller: AdminRole, store: StoreDep, review: ReviewDep, audit: AuditDep,
                    cfg: ConfigDep, request: Request) -> Any:
    """An access request: the profile (unmasked golden values, lineage, every source record with its mapped
    values as sent, traits), each record's whole row as the warehouse landed it (null while a run holds the
    warehouse), every interaction, the review candidates and decisions involving the person's records, and
    the audit entries about the customer, as one JSON document."""
    document = export(store, review, audit, cfg, customer_id)
    if document is not None:
        return document
    survivor = store.redirect(customer_id)
    if survivor is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id!r}")
    location = f"{request.scope.get('root_path', '')}{router.prefix}/{quote(survivor, safe='')}/export"
    return RedirectResponse(location, status.HTTP_301_MOVED_PERMANENTLY)


