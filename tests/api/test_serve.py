"""What `cdp serve` prints: where it serves, the version, a warning when no key can get in, a line per request."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from api.auth import ENV_KEYS
from api.startup import NO_KEYS, startup_lines
from tests.api.conftest import JOHN, KEYS, Served, build_world, config


def test_without_keys_it_warns_that_everything_but_health_is_401_and_how_to_set_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEYS, raising=False)
    lines = startup_lines(config(f"sqlite:///{tmp_path / 'serving.db'}", keys=[]), "127.0.0.1", 8123)
    assert lines[-1] == f"cdp: {NO_KEYS}"
    assert "every endpoint but /health answers 401" in NO_KEYS
    assert "CDP_API_KEYS=mykey:reader:pii" in NO_KEYS and "api.keys" in NO_KEYS


def test_before_any_publish_it_says_so_and_where_it_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_KEYS, raising=False)
    lines = startup_lines(config(f"sqlite:///{tmp_path / '.cdp' / 'serving.db'}"), "0.0.0.0", 8123)
    assert lines == ["cdp: serving http://0.0.0.0:8123 (API docs: http://0.0.0.0:8123/docs)",
                     "cdp: nothing published yet: run `cdp run` first; until then every data endpoint answers 503",
                     "cdp: 4 API key(s) (admin, reader, steward); send one in the X-API-Key header"]


def test_an_ipv6_address_is_bracketed_in_the_url(tmp_path: Path) -> None:
    assert startup_lines(config(f"sqlite:///{tmp_path / 'serving.db'}"), "::1", 80)[0].startswith(
        "cdp: serving http://[::1]:80 ")


def test_cdp_serve_prints_url_version_and_a_line_per_request(served: Served) -> None:
    request = urllib.request.Request(f"{served.base}/customers/{JOHN}", headers={"X-API-Key": KEYS["reader"]})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    printed = served.printed()
    assert f"cdp: serving {served.base} (API docs: {served.base}/docs)" in printed
    assert "cdp: published version 1 of 2025-01-02 03:04:05 UTC: " in printed
    assert "no API keys configured" not in printed
    assert f'"GET /customers/{JOHN} HTTP/1.1" 200' in printed  # uvicorn's access log


def test_the_published_line_counts_customers_and_records(tmp_path: Path) -> None:
    world = build_world(f"sqlite:///{tmp_path / 'serving.db'}")
    lines = startup_lines(config(world.url), "127.0.0.1", 8000)
    assert lines[1] == f"cdp: published version 1 of 2025-01-02 03:04:05 UTC: {len(world.docs)} customers, " \
                       "13 source records"
