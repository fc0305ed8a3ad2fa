"""/customers/merge and /customers/{id}/split: stewards join customers or take records out of one, for good."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status

from api.auth import Role
from api.deps import UNANSWERABLE, Responses, StewardRole, WriterDep, refusals
from api.models import MergeIn, Problem, RecordedEdit, RecordedLink, RecordRef, SplitIn
from serving.edits import Edit, NotLive, NotSplittable, merge, split

router = APIRouter(prefix="/customers", tags=["steward"], responses=refusals(Role.steward))

NOT_LIVE: Responses = {404: {"model": Problem, "description": "No such customer."},
            409: {"model": Problem, "description": "The id was merged into another customer (the message names it): "
                                                   "act on the survivor."}}


@router.post("/merge", response_model=RecordedEdit, status_code=status.HTTP_201_CREATED, responses=NOT_LIVE,
             summary="Merge customers")
def merge_customers(body: MergeIn, caller: StewardRole, writer: WriterDep) -> RecordedEdit:
    """Record that these customers are one person: a must-link (a `match` decision, as on a review candidate)
    from one record of the first customer to one record of each other, with the caller's key name and a note,
    and an audit entry (action `merge`) per customer merged into the first.

    The next `cdp run` applies it: clustering unions must-links before anything else, so the records become
    one customer, which keeps an id by the usual rules (the others' ids then redirect to it), and every later
    run keeps them together. Until that run the customers are served as they were.
    """
    # A plain `def`: on SQLite the write may wait for a running publish to commit.
    try:
        edit = merge(writer, body.customer_ids, caller.who, body.note)
    except NotLive as exc:
        raise _not_live(exc) from None
    return _answer("merge", body.customer_ids, edit, caller.who, body.note)


@router.post("/{customer_id}/split", response_model=RecordedEdit, status_code=status.HTTP_201_CREATED,
             responses={**NOT_LIVE, 422: {**UNANSWERABLE[422],
                                          "description": "A record that is not the customer's (the message names "
                                                         "it), all of its records, or an invalid body."}},
             summary="Split records out of a customer")
def split_customer(customer_id: str, body: SplitIn, caller: StewardRole, writer: WriterDep) -> RecordedEdit:
    """Record that these records of the customer belong to another person: a cannot-link (a `no_match`
    decision) between each of them and each record left behind, and must-links among them, so they become
    one new customer together; an audit entry (action `split`).

    The next `cdp run` applies it and every later run keeps them apart; until then the customer is served as
    it was.
    """
    chosen = [f"{r.source}:{r.source_id}" for r in body.records]
    try:
        edit = split(writer, customer_id, chosen, caller.who, body.note)
    except NotLive as exc:
        raise _not_live(exc) from None
    except NotSplittable as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return _answer("split", [customer_id], edit, caller.who, body.note)


def _not_live(exc: NotLive) -> HTTPException:
    """409 for a merged-away id (the message names the survivor), 404 for an unknown one."""
    return HTTPException(status.HTTP_409_CONFLICT if exc.survivor else status.HTTP_404_NOT_FOUND, str(exc))


def _answer(action: Literal["merge", "split"], customer_ids: list[str], edit: Edit, who: str,
            note: str | None) -> RecordedEdit:
    decisions = [RecordedLink(left=_ref(x.record_id_l), right=_ref(x.record_id_r), decision=x.decision)
                 for x in edit.links]
    return RecordedEdit(action=action, customer_ids=customer_ids, decisions=decisions, who=who, note=note,
                        at=edit.at, audit_ids=edit.audit_ids)


def _ref(record_id: str) -> RecordRef:
    source, _, source_id = record_id.partition(":")
    return RecordRef(source=source, source_id=source_id)
