"""The steward pages in Debian's chromium: sign in, decide a candidate, merge and split, a reader refused.

One uvicorn server (in a thread) over one build_world store and one browser serve the whole module; each
test has a fresh browser context (no cookies), and every request not to the server is aborted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from api.main import create_app
from tests.api.conftest import CANDIDATES, FILLERS, KEYS, MARY, ROBERT, build_world, config, free_port
from tests.utils.browser import CHROMIUM, CHROMIUM_ARGS, chromium, only_from

SMITH_1, SMITH_2, BROWN = CANDIDATES


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free localhost port over build_world's SQLite store, with the test keys."""
    url = f"sqlite:///{tmp_path_factory.mktemp('steward-browser') / 'serving.db'}"
    build_world(url)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CDP_API_KEYS", raising=False)
        app = create_app(config(url))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium()() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    """A page of a fresh context (signed out) that may reach the server only."""
    refused: list[str] = []
    context = browser.new_context()
    context.route("**/*", only_from(site, refused))
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
    assert refused == []


def sign_in(page: Any, site: str, role: str) -> None:
    page.goto(site + "/steward")
    assert "/steward/login" in page.url
    page.fill("input[name=api_key]", KEYS[role])
    page.click("button:has-text('Sign in')")


def test_a_reader_is_refused(page: Any, site: str) -> None:
    sign_in(page, site, "reader")
    assert "/steward/login" in page.url
    assert "reader's key" in page.locator(".error").inner_text()
    page.goto(site + "/steward")
    assert "/steward/login" in page.url


def test_decide_not_a_match_and_the_candidate_leaves_the_queue(page: Any, site: str) -> None:
    sign_in(page, site, "steward")
    assert page.url == site + "/steward"
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 3
    page.click(f"a[href^='/steward/candidates/{SMITH_1}']")
    assert page.locator("h1").inner_text().startswith(f"Candidate {SMITH_1}")
    assert page.locator("table.bars svg rect").count() == 2
    page.fill("textarea[name=note]", "John and Mary are two people")
    page.click("button:text-is('Not a match')")
    assert page.url.startswith(f"{site}/steward/candidates/{SMITH_2}")  # the next one
    page.click("text=← Queue")
    assert page.locator("table.queue tbody tr").count() == 2
    assert page.locator(f"a[href^='/steward/candidates/{SMITH_1}']").count() == 0


def test_merge_two_customers_and_split_one(page: Any, site: str) -> None:
    sign_in(page, site, "admin")
    page.goto(f"{site}/steward/customers/{MARY}")
    page.fill("form.merge input[name=other]", FILLERS[2])
    page.fill("form.merge input[name=note]", "same person")
    page.click("form.merge button")
    assert page.locator(".notice").inner_text().startswith("Merge recorded")
    pending = page.locator("section.pending").inner_text()
    assert "merge" in pending and FILLERS[2] in pending
    page.goto(f"{site}/steward/customers/{ROBERT}")
    page.check("input[value='service:V7']")
    page.click("form.split button")
    assert page.locator(".notice").inner_text().startswith("Split recorded")
    assert "split out service/V7" in page.locator("section.pending").inner_text()
    assert "pending" in page.locator("table.audit").inner_text()
