"""/docs renders from the app's own files (no internet), and the OpenAPI document lists every answer."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import Served
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS, chromium, only_from

PATHS = {"/health", "/customers/{customer_id}", "/customers", "/customers/{customer_id}/timeline",
         "/sources/{source}/{source_id}", "/review/candidates", "/review/candidates/{candidate_id}/decision",
         "/customers/{customer_id}/export", "/audit", "/customers/merge", "/customers/{customer_id}/split",
         "/resolve", "/changes"}


def test_docs_loads_swagger_ui_from_the_app(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3 and all(a.startswith("/static/swagger-ui/") for a in assets)
    assert "http" not in page.text  # nothing from another host
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 500
    assert client.get("/redoc").status_code == 404  # left out rather than a blank page


def test_openapi_lists_paths_and_the_profile_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == PATHS
    listing = spec["paths"]["/customers"]["get"]
    segment = next(p for p in listing["parameters"] if p["name"] == "segment")
    assert "churn_risk" in segment["description"] and "monetary:high" in segment["description"]
    assert spec["paths"]["/customers/{customer_id}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/Profile"}


def test_openapi_lists_the_refusals_each_route_can_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    statuses = {(path, method): set(operation["responses"])
                for path, item in spec["paths"].items() for method, operation in item.items()}
    reader, steward = {"400", "401", "429", "503"}, {"400", "401", "403", "429", "503"}
    assert statuses == {
        ("/health", "get"): {"200", "503"},
        ("/customers/{customer_id}", "get"): {"200", "301", "404", "422"} | reader,
        ("/customers", "get"): {"200", "403", "422"} | reader,
        ("/customers/{customer_id}/timeline", "get"): {"200", "301", "404", "422"} | reader,
        ("/sources/{source}/{source_id}", "get"): {"200", "404", "422"} | reader,
        ("/resolve", "post"): {"200", "422"} | reader,
        ("/review/candidates", "get"): {"200", "422"} | steward,
        ("/review/candidates/{candidate_id}/decision", "post"): {"201", "404", "422"} | steward,
        ("/customers/{customer_id}", "delete"): {"200", "308", "404", "409", "422"} | steward,
        ("/customers/{customer_id}/export", "get"): {"200", "301", "404", "422"} | steward,
        ("/audit", "get"): {"200", "422"} | steward,
        ("/customers/merge", "post"): {"201", "404", "409", "422"} | steward,
        ("/customers/{customer_id}/split", "post"): {"201", "404", "409", "422"} | steward,
        ("/changes", "get"): {"200", "422"} | reader,
    }
    assert "run `cdp run`" in spec["paths"]["/customers"]["get"]["responses"]["503"]["description"]
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', client.get("/openapi.json").text))
    assert refs <= set(spec["components"]["schemas"])  # every hand-written reference resolves


def test_docs_render_in_chromium_without_network(served: Served, tmp_path: Path) -> None:
    """The real `cdp serve`, a real browser, and every request not to the server refused."""
    sync_playwright = chromium()
    refused: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_from(served.base, refused))
            page.goto(served.base + "/docs")
            page.wait_for_selector(".opblock-summary-path", timeout=30_000)
            operations = page.locator(".opblock-summary-path")
            shown = {operations.nth(i).get_attribute("data-path") for i in range(operations.count())}
            page.screenshot(path=tmp_path / "docs.png")  # kept in pytest's tmp folder, to look at
        finally:
            browser.close()
    assert shown == PATHS
    assert refused == []
