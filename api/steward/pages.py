"""/steward: sign-in and sign-out, the review queue and a candidate's page, where a steward decides it.

Decisions go through api.review_desk, as POST /review/candidates/{id}/decision does; the pages add only
the ranking (api.steward.queue) and the HTML.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError

from api.auth import Role
from api.deps import ConfigDep, ReviewDep, StoreDep
from api.models import DecisionIn
from api.steward.queue import Ranked, matching, open_candidates, rank
from api.steward.render import bar_scale, invalid, page, see_other
from api.steward.session import (
    FormFields,
    PageError,
    Steward,
    base_of,
    clear_session,
    csrf_token,
    field,
    new_session,
    read_session,
    steward_of,
    write_session,
)

router = APIRouter(prefix="/steward", include_in_schema=False)
SHOWN = 200
"""Candidates the queue page lists: the top of the ranking (the filters narrow it)."""


@router.get("/login")
def login_form(request: Request, wanted: Annotated[str, Query(alias="next")] = "") -> Response:
    """The sign-in form (one field, `api_key`); a signed-in steward goes on to the queue."""
    session = read_session(request)
    if steward_of(request, session) is not None:
        return see_other(request, "")
    if session is None:
        session = new_session(None)
    response = page(request, "login.html", csrf=csrf_token(request, session), next=wanted)
    write_session(request, response, session)
    return response


@router.post("/login")
def login(request: Request, fields: FormFields) -> Response:
    """Sign in with a steward's or admin's key: a session cookie that names the key's holder, not the key."""
    caller = request.app.state.keys.get(field(fields, "api_key"))
    wanted = field(fields, "next")
    if caller is None:
        return _refused(request, status.HTTP_401_UNAUTHORIZED, "Unknown API key.", wanted)
    if caller.role < Role.steward:
        return _refused(request, status.HTTP_403_FORBIDDEN, "This is a reader's key: the steward pages need a "
                                                            "steward's or an admin's key.", wanted)
    base = base_of(request)
    # only one of these pages: an open redirect would hand a freshly signed-in steward to anyone's page
    ours = wanted == base or wanted.startswith((base + "/", base + "?"))
    response = see_other(request, wanted.removeprefix(base) if ours else "")
    write_session(request, response, new_session(caller.who))
    return response


def _refused(request: Request, code: int, message: str, wanted: str) -> Response:
    """The sign-in form again, saying why, with a fresh anonymous session."""
    session = new_session(None)
    response = page(request, "login.html", status_code=code, error=message, csrf=csrf_token(request, session),
                    next=wanted)
    write_session(request, response, session)
    return response


@router.post("/logout")
def logout(request: Request, fields: FormFields) -> Response:
    """Sign out (the form carries only its CSRF token): the session cookie is dropped."""
    response = see_other(request, "/login")
    clear_session(request, response)
    return response


@router.get("")
def queue(request: Request, signed: Steward, review: ReviewDep, store: StoreDep, config: ConfigDep,
          source: str = "", low: Annotated[float, Query(ge=0, le=1)] = 0.0,
          high: Annotated[float, Query(ge=0, le=1)] = 1.0) -> Response:
    """The open candidates, most at stake first, filtered by source and match probability."""
    shown = matching(open_candidates(review), source or None, low, high)
    ranked = rank(shown, store.engine, config.identity.threshold)
    filters = urlencode({"source": source, "low": low, "high": high})
    return page(request, "queue.html", signed, ranked=ranked[:SHOWN], total=len(ranked), sources=sorted(config.sources),
                source=source, low=low, high=high, filters=filters)


@router.get("/candidates/{candidate_id}")
def candidate(request: Request, candidate_id: str, signed: Steward, review: ReviewDep, store: StoreDep,
              config: ConfigDep) -> Response:
    """Both records side by side, the match probability and each comparison's weight, and the decision form."""
    found = review.candidate(candidate_id)
    if found is None:
        raise PageError(status.HTTP_404_NOT_FOUND, f"No review candidate {candidate_id!r}.")
    (placed,) = rank([found], store.engine, config.identity.threshold)
    weights = [float(e["weight"]) for e in found["explanation"]]
    return page(request, "candidate.html", signed, c=found, placed=placed, rows=_side_by_side(found),
                scale=bar_scale(weights), filters=request.url.query)


@router.post("/candidates/{candidate_id}/decision")
def decide(request: Request, candidate_id: str, signed: Steward, fields: FormFields, review: ReviewDep,
           store: StoreDep, config: ConfigDep) -> Response:
    """Record "Match" or "Not a match" with the note, then open the next candidate of the (filtered) queue."""
    try:
        body = DecisionIn.model_validate({"decision": field(fields, "decision"),
                                          "note": field(fields, "note").strip() or None})
    except ValidationError as exc:
        raise PageError(status.HTTP_422_UNPROCESSABLE_CONTENT, invalid(exc)) from None
    if review.decide(candidate_id, body.decision, signed.caller.who, body.note) is None:
        raise PageError(status.HTTP_404_NOT_FOUND, f"No review candidate {candidate_id!r}.")
    upcoming = _next(request, review, store, config)
    filters = request.url.query
    path = f"/candidates/{upcoming.candidate['candidate_id']}" if upcoming else ""
    return see_other(request, f"{path}?{filters}" if filters else path)


def _next(request: Request, review: ReviewDep, store: StoreDep, config: ConfigDep) -> Ranked | None:
    """The first open candidate of the queue as filtered by the request's query (source, low, high)."""
    params = request.query_params
    try:
        low, high = float(params.get("low", 0)), float(params.get("high", 1))
    except ValueError:
        low, high = 0.0, 1.0
    shown = matching(open_candidates(review), params.get("source") or None, low, high)
    ranked = rank(shown, store.engine, config.identity.threshold)
    return ranked[0] if ranked else None


def _side_by_side(candidate: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """(attribute, left value, right value, differ) for each attribute at least one of the records has."""
    left, right = candidate["left"], candidate["right"]
    names = [k for k in dict.fromkeys([*left, *right]) if k not in ("source", "source_id")
             and (left.get(k) is not None or right.get(k) is not None)]
    return [(k, left.get(k), right.get(k), left.get(k) != right.get(k)) for k in names]
