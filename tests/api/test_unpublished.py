"""Before the first publish, and with a store that cannot be reached: 503 with a clear detail, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.deps import NOT_PUBLISHED
from api.main import create_app
from tests.api.conftest import JOHN, as_role, config

READS = [f"/customers/{JOHN}", "/customers", "/customers?name=Smith&segment=churn_risk", f"/customers/{JOHN}/timeline",
         "/sources/sales/S1", "/review/candidates"]
"""A request to every data endpoint (the review queue needs the steward key used below)."""
DECISION = "/review/candidates/cand-1/decision"


def answers(url: str) -> dict[str, tuple[int, object]]:
    """Path -> (status, body) of /health and every data endpoint, with a steward's key."""
    with TestClient(create_app(config(url))) as client:
        got = {path: client.get(path, headers=as_role("steward")) for path in ["/health", *READS]}
        got[DECISION] = client.post(DECISION, json={"decision": "match"}, headers=as_role("steward"))
    return {path: (response.status_code, response.json()) for path, response in got.items()}


def test_before_any_publish_health_says_so_and_data_endpoints_are_503(
        store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    got = answers(store_url)
    assert got.pop("/health") == (200, {"status": "empty", "detail": NOT_PUBLISHED})
    assert got == dict.fromkeys([*READS, DECISION], (503, {"detail": NOT_PUBLISHED}))


def test_before_the_first_run_made_the_stores_folder_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The newcomer's `cdp serve` before `cdp run`: the SQLite store's folder (.cdp/) does not exist yet."""
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    got = answers(f"sqlite:///{tmp_path / '.cdp' / 'serving.db'}")
    assert got.pop("/health") == (200, {"status": "empty", "detail": NOT_PUBLISHED})
    assert got == dict.fromkeys([*READS, DECISION], (503, {"detail": NOT_PUBLISHED}))
    assert not (tmp_path / ".cdp").exists()


def test_a_store_that_cannot_be_reached_is_503_naming_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    got = answers("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")  # nothing listens on port 1
    assert {status for status, _ in got.values()} == {503}
    for _, body in got.values():
        assert isinstance(body, dict) and body["detail"].startswith("serving store unavailable: ")
        assert "127.0.0.1" in body["detail"]
