"""/docs: Swagger UI from files shipped in the package (api/static), so the page renders without internet.

FastAPI's own /docs loads Swagger UI from a CDN and is a blank page offline; /redoc, which would need
a second bundle (and web fonts), is left out.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
"""Vendored assets; static/swagger-ui/README.md names their version and license."""
SWAGGER_UI = "/static/swagger-ui"


def add_docs(app: FastAPI) -> None:
    """Serve the vendored assets under /static and Swagger UI over the app's OpenAPI document at /docs."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # behind a proxy that mounts the API under a path
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png")
