"""Hostile input answers 4xx, never 5xx: forged cursors, lone surrogates, NULs, a forged Host; HEAD; zoned times."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from api.reader import zoned
from tests.api.conftest import CANDIDATES, JOHN, MERGED, as_role
from tests.utils.serving import ServingBuilder


def token(raw_json: str) -> str:
    """A cursor token as the API would encode this JSON text."""
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


FORGED = {
    "/customers": ['["\\ud800"]', "[1234567890123456789012345678901]", "true", "[null]", "[true]", '["a", "b"]',
                   '{"a": 1}', '["\\u0000"]'],
    f"/customers/{JOHN}/timeline": ['["\\ud800", "a", "b", "c"]', '[1, "a", "b", "c"]', '[null, "a", "b", "c"]',
                                    "true"],
    "/review/candidates": ['[1234567890123456789012345678901, "x"]', '[true, "x"]', '[0.5, "\\ud800"]', "[NaN, \"x\"]",
                           '[1e999, "x"]', '[0.5, null]', "[null]"],
}


@pytest.mark.parametrize(("path", "raw"), [(path, raw) for path, raws in FORGED.items() for raw in raws])
def test_a_forged_cursor_is_400(client: TestClient, path: str, raw: str) -> None:
    response = client.get(path, params={"cursor": token(raw)}, headers=as_role("steward"))
    assert response.status_code == 400, response.text
    assert response.json() == {"detail": "cursor: not a cursor this API gave out"}


def test_a_lone_surrogate_in_a_decision_note_is_422(client: TestClient) -> None:
    response = client.post(f"/review/candidates/{CANDIDATES[0]}/decision", headers={
        **as_role("steward"), "content-type": "application/json"}, content=b'{"decision": "match", "note": "\\ud800"}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "note"]
    broken = client.post(f"/review/candidates/{CANDIDATES[0]}/decision", headers={
        **as_role("steward"), "content-type": "application/json"}, content=b'{"decision": "match", "note": ')
    assert broken.status_code == 422


def test_a_nul_in_an_id_is_not_found_or_400(client: TestClient, world: ServingBuilder) -> None:
    expected = 400 if world.url.startswith("postgresql") else 404  # PostgreSQL takes no NUL in text
    for path in ("/customers/C0%00", "/sources/sales/S%001", "/customers/C0%00/timeline"):
        assert client.get(path, headers=as_role("reader")).status_code == expected, path
    decision = client.post("/review/candidates/c%00/decision", json={"decision": "match"}, headers=as_role("steward"))
    assert decision.status_code == expected


def test_a_redirect_never_names_the_host_the_request_claimed(client: TestClient) -> None:
    for path, survivor in ((f"/customers/{MERGED}", f"/customers/{JOHN}"),
                           (f"/customers/{MERGED}/timeline?limit=2", f"/customers/{JOHN}/timeline?limit=2")):
        response = client.get(path, headers={**as_role("reader"), "host": "evil.example"})
        assert response.status_code == 301
        assert response.headers["location"] == survivor


@pytest.mark.parametrize(("path", "role"), [
    ("/health", None), (f"/customers/{JOHN}", "reader"), ("/customers?name=Smith", "reader"),
    (f"/customers/{JOHN}/timeline", "reader"), ("/sources/sales/S1", "reader"), ("/review/candidates", "steward"),
    (f"/customers/{MERGED}", "reader"), ("/customers/C999999999", "reader"), ("/openapi.json", None), ("/docs", None)])
def test_head_answers_wherever_get_does(client: TestClient, path: str, role: str | None) -> None:
    headers = as_role(role) if role else {}
    got, head = client.get(path, headers=headers), client.head(path, headers=headers)
    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers.get("content-length") == got.headers.get("content-length")
    assert head.headers.get("location") == got.headers.get("location")
    assert client.head(f"/customers/{JOHN}").status_code == 401


def test_times_are_rfc3339_with_a_zone(client: TestClient) -> None:
    assert client.get("/health").json()["published_at"] == "2025-01-02T03:04:05Z"
    events = client.get(f"/customers/{JOHN}/timeline", headers=as_role("reader")).json()["items"]
    assert {e["at"][-1] for e in events if e["at"]} == {"Z"}
    decided = client.post(f"/review/candidates/{CANDIDATES[1]}/decision", json={"decision": "match"},
                          headers=as_role("steward")).json()
    assert decided["at"].endswith("Z")
    queue = client.get("/review/candidates", params={"status": "decided"}, headers=as_role("steward")).json()
    assert {c["decision"]["at"][-1] for c in queue["items"] if c["decision"]} == {"Z"}


def test_trait_times_stored_without_a_zone_are_answered_in_utc() -> None:
    assert zoned("2024-06-15T12:00:00") == "2024-06-15T12:00:00Z"
    assert zoned("2024-06-15T12:00:00Z") == "2024-06-15T12:00:00Z"
    assert zoned("2024-06-15T12:00:00+02:00") == "2024-06-15T12:00:00+02:00"
    assert zoned("2024-06-15") == "2024-06-15" and zoned(None) is None  # a date has no zone to give
