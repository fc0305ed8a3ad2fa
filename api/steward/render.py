"""The pages' templates (api/steward/templates, Jinja2, autoescaped) and the few helpers they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.steward.session import SignedIn, base_of

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def page(request: Request, name: str, signed: SignedIn | None = None, status_code: int = status.HTTP_200_OK,
         **context: Any) -> HTMLResponse:
    """A template rendered with what every page shows: where the pages are, who is signed in, the CSRF token."""
    common = {"base": base_of(request), "steward": signed.caller if signed else None,
              "csrf": signed.csrf if signed else None}
    return templates.TemplateResponse(request, name, {**common, **context}, status_code=status_code,
                                      headers={"Cache-Control": "no-store"})


def see_other(request: Request, path: str) -> RedirectResponse:
    """303 to a page (a path under /steward): the browser follows a form POST with a GET."""
    return RedirectResponse(base_of(request) + path, status.HTTP_303_SEE_OTHER)


def bar_scale(weights: list[float]) -> float:
    """The weight a full-width bar stands for: the largest magnitude (at least 1, so tiny weights stay tiny)."""
    return max([1.0, *(abs(w) for w in weights)])


def invalid(exc: ValidationError) -> str:
    """A form's validation errors as one sentence for the page (the API's request models validate the forms)."""
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()) + "."
