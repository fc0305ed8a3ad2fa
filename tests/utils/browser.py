"""Debian's chromium driven by Playwright, for the tests that need a real browser."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium() -> Any:
    """Playwright's sync API when Debian's chromium is here; else skip (fail when CDP_REQUIRE_SERVICES=1)."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} not found (apt-get install -y chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = reason or "playwright not installed (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("CDP_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (CDP_REQUIRE_SERVICES=1 turns this skip into a failure)")
        pytest.skip(reason)
    return sync_playwright


def only_from(base: str, refused: list[str]) -> Any:
    """A Playwright route handler that lets requests to `base` through and aborts (and lists) every other."""

    def route(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    return route
