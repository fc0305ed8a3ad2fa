"""/steward/customers/{id}: a customer as a steward sees it ("why are these records one customer?"), and the
merge and split forms.

The profile comes from api.reader, the links from api.review_desk, the history from api.audit_log; a merge or
split is serving.edits' (as POST /customers/merge and /customers/{id}/split), validated by the API's own
request models. Like the API's, they apply at the next run: until then the page lists them as pending.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response, status
from pydantic import ValidationError

from api.audit_log import utc
from api.deps import AuditDep, ReviewDep, StoreDep, WriterDep
from api.models import MergeIn, SplitIn
from api.steward.render import bar_scale, invalid, page, see_other
from api.steward.session import FormFields, PageError, SignedIn, Steward, field
from serving.edits import NotLive, NotSplittable, merge, split

router = APIRouter(prefix="/steward/customers", include_in_schema=False)
DONE = {"merge": "Merge recorded.", "split": "Split recorded."}


@router.get("/{customer_id}")
def customer(request: Request, customer_id: str, signed: Steward, store: StoreDep, review: ReviewDep,
             audit: AuditDep, done: str = "") -> Response:
    """Golden attributes with lineage, source records, links, id history, audit entries; merge and split forms."""
    return _customer_page(request, signed, customer_id, store, review, audit, notice=DONE.get(done))


@router.post("/{customer_id}/merge")
def merge_with(request: Request, customer_id: str, signed: Steward, fields: FormFields, store: StoreDep,
               review: ReviewDep, audit: AuditDep, writer: WriterDep) -> Response:
    """Merge another customer (form field `other`) into this one, with a note; it applies at the next run."""
    try:
        body = MergeIn.model_validate({"customer_ids": [customer_id, field(fields, "other").strip()],
                                       "note": field(fields, "note").strip() or None})
        merge(writer, body.customer_ids, signed.caller.who, body.note)
    except (ValidationError, NotLive) as exc:
        return _refused(request, signed, customer_id, store, review, audit, exc)
    return see_other(request, f"/customers/{customer_id}?done=merge")


@router.post("/{customer_id}/split")
def split_out(request: Request, customer_id: str, signed: Steward, fields: FormFields, store: StoreDep,
              review: ReviewDep, audit: AuditDep, writer: WriterDep) -> Response:
    """Split the checked source records (`record` = source:source_id) out into a new customer, at the next run."""
    chosen = [r.partition(":") for r in fields.get("record", [])]
    try:
        body = SplitIn.model_validate({"records": [{"source": s, "source_id": i} for s, _, i in chosen],
                                       "note": field(fields, "note").strip() or None})
        split(writer, customer_id, [f"{r.source}:{r.source_id}" for r in body.records], signed.caller.who, body.note)
    except (ValidationError, NotLive, NotSplittable) as exc:
        return _refused(request, signed, customer_id, store, review, audit, exc)
    return see_other(request, f"/customers/{customer_id}?done=split")


def _refused(request: Request, signed: SignedIn, customer_id: str, store: StoreDep, review: ReviewDep,
             audit: AuditDep, exc: Exception) -> Response:
    """The customer's page again, saying why the merge or split was refused (409: a merged-away id)."""
    message = invalid(exc) if isinstance(exc, ValidationError) else str(exc)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if isinstance(exc, NotLive):
        code = status.HTTP_409_CONFLICT if exc.survivor else status.HTTP_404_NOT_FOUND
    return _customer_page(request, signed, customer_id, store, review, audit, error=message, status_code=code)


def _customer_page(request: Request, signed: SignedIn, customer_id: str, store: StoreDep, review: ReviewDep,
                   audit: AuditDep, notice: str | None = None, error: str | None = None,
                   status_code: int = status.HTTP_200_OK) -> Response:
    """The customer's page; a merged-away id goes to its survivor's, an unknown one is a 404 page."""
    text = store.profile(customer_id, None)
    if text is None:
        survivor = store.redirect(customer_id)
        if survivor is None:
            raise PageError(status.HTTP_404_NOT_FOUND, f"No customer {customer_id!r}.")
        return see_other(request, f"/customers/{survivor}")
    profile = json.loads(text)
    record_ids = [f"{r['source']}:{r['source_id']}" for r in profile["sources"]]
    candidates, decisions = review.involving(record_ids)
    entries = audit.all_of(customer_id)
    version = store.version()
    published = utc(version.published_at) if version else None
    links = _held_by(store, customer_id)
    weights = [float(x["weight"]) for c in [*candidates, *(links or [])] for x in c["explanation"]]
    return page(request, "customer.html", signed, status_code=status_code, p=profile, notice=notice, error=error,
                links=links, candidates=_links(candidates, set(record_ids)), decisions=decisions,
                merged=store.merged_into(customer_id), audit=entries, published=published,
                pending=[e for e in entries if _after(e["at"], published)], scale=bar_scale(weights))


def _held_by(store: StoreDep, customer_id: str) -> list[dict[str, Any]] | None:
    """The published links inside the customer; None from a store whose last publish predates them."""
    try:
        return store.links(customer_id)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # no customer_links table until the next run
        return None


def _links(candidates: list[dict[str, Any]], own: set[str]) -> list[dict[str, Any]]:
    """The scored pairs touching the customer's records, those inside the customer first, likeliest first."""
    def inside(c: dict[str, Any]) -> bool:
        return all(f"{c[s]['source']}:{c[s]['source_id']}" in own for s in ("left", "right"))
    return sorted(({**c, "inside": inside(c)} for c in candidates),
                  key=lambda c: (not c["inside"], -c["match_probability"]))


def _after(at: dt.datetime, published: dt.datetime | None) -> bool:
    """Whether an audit entry is newer than the published version (so the next run has yet to apply it)."""
    return published is None or utc(at) > published
