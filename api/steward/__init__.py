"""The stewards' pages under /steward: server-rendered HTML over the same functions as the JSON API.

`add_steward(app)` serves the pages, their stylesheet (api/steward/static, no outside assets) and the two
answers every page may give instead: the sign-in form for a visitor without a session, an error page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from api.steward import customers, pages
from api.steward.render import HERE, page, see_other
from api.steward.session import NotSignedIn, PageError, base_of


def add_steward(app: FastAPI) -> None:
    """Include the pages' routes, mount their static files and handle their redirects and errors."""
    app.mount("/steward/static", StaticFiles(directory=HERE / "static"), name="steward-static")
    app.include_router(pages.router)
    app.include_router(customers.router)
    app.add_exception_handler(NotSignedIn, _sign_in)
    app.add_exception_handler(PageError, _error_page)


async def _sign_in(request: Request, exc: Exception) -> Response:
    """303 to the sign-in form, which comes back here after signing in."""
    wanted = exc.path if isinstance(exc, NotSignedIn) else base_of(request)
    return see_other(request, "/login?" + urlencode({"next": wanted}))


async def _error_page(request: Request, exc: Exception) -> Response:
    """The error as a page (a 404 for an unknown candidate, a 403 for a stale form...)."""
    code, message = (exc.status_code, exc.message) if isinstance(exc, PageError) else (500, str(exc))
    return page(request, "error.html", status_code=code, message=message)
