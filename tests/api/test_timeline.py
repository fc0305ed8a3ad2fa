"""GET /customers/{id}/timeline: every silo's events, newest first, in pages."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.api.conftest import BUSY, BUSY_EVENTS, JOHN, MARY, MERGED, TIMELINE, as_role
from tests.utils.serving import ServingBuilder


def timeline(client: TestClient, customer_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/customers/{customer_id}/timeline", params=params, headers=as_role("reader"))
    assert response.status_code == 200, response.text
    return response.json()


def test_newest_first_across_silos(client: TestClient) -> None:
    body = timeline(client, JOHN)
    assert [e["interaction_id"] for e in body["items"]] == TIMELINE
    assert {e["source"] for e in body["items"]} == {"finance", "sales", "service"}
    assert body["next_cursor"] is None
    newest, *_, undated = body["items"]
    assert newest == {"at": "2024-06-15T12:00:00Z", "source": "service", "name": "tickets", "interaction_id": "T1",
                      "amount": None, "attributes": {"category": "complaint"}}
    assert undated["at"] is None and undated["interaction_id"] == "I2"
    invoice = next(e for e in body["items"] if e["interaction_id"] == "I1")
    assert invoice["amount"] == 500.0 and invoice["attributes"] == {"paid": True}


def test_pages_follow_the_cursor_without_gaps_or_repeats(client: TestClient) -> None:
    seen, cursor = [], None
    for _ in range(3):
        body = timeline(client, JOHN, limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(body["items"]) == 2
        seen += [e["interaction_id"] for e in body["items"]]
        cursor = body["next_cursor"]
    assert seen == TIMELINE and cursor is None


def test_a_cursor_splits_events_that_share_a_time(client: TestClient) -> None:
    first = timeline(client, JOHN, limit=2)
    assert [e["interaction_id"] for e in first["items"]] == ["T1", "O2"]
    rest = timeline(client, JOHN, limit=10, cursor=first["next_cursor"])
    assert [e["interaction_id"] for e in rest["items"]] == TIMELINE[2:]


def test_a_long_timeline_pages_across_its_chunks(client: TestClient, world: ServingBuilder) -> None:
    engine = sa.create_engine(world.url)
    with engine.connect() as con:
        chunks = con.execute(sa.text("select position from timeline where customer_id = :c order by 1"), {"c": BUSY})
        assert list(chunks.scalars()) == [0, 100, 200]
    engine.dispose()
    seen, cursor = [], None
    while True:  # pages of 70 start and end inside chunks
        body = timeline(client, BUSY, limit=70, **({"cursor": cursor} if cursor else {}))
        seen += [e["interaction_id"] for e in body["items"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert seen == sorted(BUSY_EVENTS, key=lambda i: (BUSY_EVENTS[i], i), reverse=True)


def test_a_customer_without_events_has_an_empty_timeline(client: TestClient) -> None:
    assert timeline(client, MARY) == {"items": [], "next_cursor": None}


def test_a_merged_away_id_moves_with_its_query(client: TestClient) -> None:
    response = client.get(f"/customers/{MERGED}/timeline", params={"limit": 2}, headers=as_role("reader"))
    assert response.status_code == 301
    assert response.headers["location"].endswith(f"/customers/{JOHN}/timeline?limit=2")


def test_unknown_customer_and_bad_cursor(client: TestClient) -> None:
    assert client.get("/customers/C999999999/timeline", headers=as_role("reader")).status_code == 404
    bad = client.get(f"/customers/{JOHN}/timeline", params={"cursor": "bm90IGEgY3Vyc29y"}, headers=as_role("reader"))
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]
