"""GET /changes: the feed of two crafted publishes, paged by cursor, filtered by type, masked for readers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.reader import encode_cursor
from tests.api.conftest import as_role, config
from tests.utils.changes import ANN, first, second


@pytest.fixture
def feed_client(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("CDP_API_KEYS", raising=False)
    first(store_url).publish()
    second(store_url).publish()
    with TestClient(create_app(config(store_url)), follow_redirects=False) as c:
        yield c


def test_the_feed_pages_in_order_and_resumes_from_its_cursor(feed_client: TestClient) -> None:
    whole = feed_client.get("/changes", headers=as_role("reader")).json()
    assert len(whole["items"]) == 10 and whole["next_cursor"]
    ids = [e["event_id"] for e in whole["items"]]
    assert ids == sorted(ids)
    seen, cursor = [], None
    while True:
        page = feed_client.get("/changes", params={"limit": 3, **({"since": cursor} if cursor else {})},
                               headers=as_role("reader")).json()
        if not page["items"]:
            assert page["next_cursor"] == cursor  # polling at the end keeps the place
            break
        seen += page["items"]
        cursor = page["next_cursor"]
    assert seen == whole["items"]


def test_types_filter_and_pii_follows_the_key(feed_client: TestClient) -> None:
    wanted = "segment.entered:churn_risk,customer.updated"
    items = feed_client.get("/changes", params={"types": wanted}, headers=as_role("reader")).json()["items"]
    assert [(e["type"], e["customer_id"]) for e in items] == [("customer.updated", ANN),
                                                              ("segment.entered:churn_risk", ANN)]
    assert items[0]["attributes"] == {"email": "a***@new.com"} and items[0]["changed"] == ["email"]
    shown = feed_client.get("/changes", params={"types": "customer.updated"}, headers=as_role("reader_pii")).json()
    assert shown["items"][0]["attributes"] == {"email": "ann@new.com"}
    merged = feed_client.get("/changes", params=[("types", "customer.merged"), ("types", "customer.split")],
                             headers=as_role("reader")).json()["items"]
    assert [e["type"] for e in merged] == ["customer.merged", "customer.split"]
    assert feed_client.get("/changes", params={"types": "segment.entered:vip"},
                           headers=as_role("reader")).status_code == 422


HOSTILE = ["not-a-cursor", encode_cursor(["C1"]), encode_cursor([0]), encode_cursor([2**70]), encode_cursor([1, 2]),
           "%00"]
"""Cursors this API never gave out: not base64 JSON, a customer id, no event, past 64 bits, two values, a NUL."""


def test_a_cursor_it_did_not_give_out_is_a_400(feed_client: TestClient) -> None:
    for cursor in HOSTILE:  # one publish for all of them
        answer = feed_client.get("/changes", params={"since": cursor}, headers=as_role("reader"))
        assert answer.status_code == 400, (cursor, answer.text)


def test_the_feed_needs_a_key_and_is_documented(feed_client: TestClient) -> None:
    assert feed_client.get("/changes").status_code == 401
    spec = feed_client.app.openapi()["paths"]["/changes"]["get"]
    assert {"200", "400", "401", "422", "429", "503"} <= set(spec["responses"])
