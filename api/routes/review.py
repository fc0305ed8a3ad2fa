"""/review: the stewards' queue of uncertain matches, and their decisions (kept, honoured by the next run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from api.auth import Role
from api.deps import UNANSWERABLE, ReviewDep, StewardRole, refusals
from api.models import CandidatePage, DecisionIn, RecordedDecision
from api.review_desk import Status

router = APIRouter(prefix="/review", tags=["review"], responses=refusals(Role.steward))


@router.get("/candidates", response_model=CandidatePage, responses=UNANSWERABLE, summary="The review queue")
def list_candidates(
    caller: StewardRole,
    review: ReviewDep,
    state: Annotated[Status, Query(alias="status", description="open (not decided yet), decided, or all")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> CandidatePage:
    """Pairs of records the model was unsure about, and links the clustering guards refused, most likely
    matches first: both records' values, the match probability and the model's evidence per comparison.

    A candidate decided since the last publish shows as decided, with its decision.
    """
    page = review.candidates(state, limit, cursor)
    return CandidatePage.model_validate({"items": page.items, "next_cursor": page.next_cursor})


@router.post("/candidates/{candidate_id}/decision", response_model=RecordedDecision,
             status_code=status.HTTP_201_CREATED, responses={404: {"description": "No such candidate."}},
             summary="Decide a candidate")
def decide(candidate_id: str, body: DecisionIn, caller: StewardRole, review: ReviewDep) -> RecordedDecision:
    """Record `match` (the two records are one person) or `no_match` (keep them apart), with the caller's
    key name and the time. Decisions survive republishing; the next `cdp run` imports them and clustering
    honours the latest decision on each pair. Deciding again replaces the earlier decision.
    """
    # A plain `def`: on SQLite the write may wait for a running publish to commit.
    recorded = review.decide(candidate_id, body.decision, caller.who, body.note)
    if recorded is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no review candidate {candidate_id!r}")
    return RecordedDecision(decision_id=recorded.decision_id, candidate_id=recorded.candidate_id,
                            decision=body.decision, who=recorded.who, note=recorded.note, at=recorded.at)
