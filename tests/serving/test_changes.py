"""The change feed's outbox: crafted versions published one after the other (SQLite and the real PostgreSQL),
and the events each publish recorded, in order; an erasure's event and what it forgets."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from serving.audit import write_engine
from serving.changes import read_changes
from tests.utils.changes import ANN, BEN, CAROL, DAN, EVE, FAY, first, second
from tests.utils.serving import record


def feed(url: str, after: int = 0, types: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return read_changes(conn, after, types, 1000)
    finally:
        engine.dispose()


def test_the_first_publish_is_the_baseline_and_the_next_records_what_changed(store_url: str) -> None:
    assert first(store_url).publish() == 1
    assert feed(store_url) == []
    assert second(store_url).publish() == 2
    events = feed(store_url)
    assert [(e["type"], e["customer_id"]) for e in events] == [
        ("customer.created", FAY),
        ("customer.merged", BEN),
        ("customer.split", DAN),
        ("customer.removed", EVE),
        ("customer.updated", ANN),
        ("segment.entered:churn_risk", ANN),
        ("segment.entered:frequency:low", FAY),
        ("segment.entered:monetary:mid", FAY),
        ("segment.entered:recency:low", FAY),
        ("segment.entered:short_low_value", FAY),
    ]
    by_type = {e["type"]: e for e in events}
    assert by_type["customer.merged"]["merged_ids"] == [CAROL]
    assert by_type["customer.split"]["split_ids"] == [FAY]
    assert by_type["customer.updated"]["changed"] == ["email"]
    assert by_type["customer.updated"]["attributes"] == {"email": "ann@new.com"}
    assert [e["event_id"] for e in events] == sorted(e["event_id"] for e in events)
    assert {e["version"] for e in events} == {2}
    assert events[0]["at"].endswith("Z")


def test_an_unchanged_version_records_nothing_and_segments_left_are_recorded(store_url: str) -> None:
    first(store_url).publish()
    second(store_url).publish()
    done = feed(store_url)[-1]["event_id"]
    second(store_url).publish()
    assert feed(store_url, done) == []
    third = second(store_url)
    third.rows = {table: [] for table in third.rows}
    third.docs.clear()
    third.customer(ANN, [record("crm", "1", first_name="ANN", last_name="LEE", email="ann@new.com")],
                   monetary_tier="high")
    third.customer(BEN, [record("crm", "2", first_name="BEN", last_name="KAY"),
                         record("shop", "3", first_name="BEN", last_name="KAY")], monetary_tier="high")
    third.customer(DAN, [record("crm", "4", first_name="DAN", last_name="OH")])
    third.customer(FAY, [record("shop", "4", first_name="DAN", last_name="OH")], monetary_tier="mid")
    third.redirect(CAROL, BEN)
    third.publish()
    assert [(e["type"], e["customer_id"]) for e in feed(store_url, done)] == [
        ("segment.left:churn_risk", ANN), ("segment.left:monetary:low", ANN), ("segment.entered:monetary:high", ANN)]
    assert feed(store_url, done, ("segment.entered:monetary:high",))[0]["customer_id"] == ANN


def test_an_erasure_is_an_event_and_its_customer_s_values_leave_the_feed(store_url: str) -> None:
    from serving.erasure import erase

    first(store_url).publish()
    second(store_url).publish()
    engine = write_engine(store_url)
    try:
        erase(engine, ANN, b"k" * 32, "admin:test")
    finally:
        engine.dispose()
    events = feed(store_url)
    assert (events[-1]["type"], events[-1]["customer_id"], events[-1]["version"]) == ("customer.erased", ANN, 2)
    updated = next(e for e in events if e["type"] == "customer.updated")
    assert updated["changed"] == ["email"] and "attributes" not in updated
