"""Traits: counts and sums across silos, the 90-day window, tiers, loyalty and the churn rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from identity.ids import assign_customer_ids
from identity.traits import build_traits
from tests.utils.warehouse import event, write_clusters, write_interactions


def warehouse(groups: list[list[str]], events: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    write_clusters(con, groups)
    assign_customer_ids(con, "r1")
    write_interactions(con, events)
    return con


def traits_of(con: duckdb.DuckDBPyConnection, record_id: str) -> dict[str, Any]:
    cur = con.execute("select t.* from traits t join record_customer rc using (customer_id) where rc.record_id = ?",
                      [record_id])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchall()[0], strict=True))


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    con = warehouse([["crm:ann", "shop:ann"], ["shop:bob"], ["shop:cat"], ["shop:dan"], ["shop:eve"]], [
        event("shop:ann", "orders", "2024-01-10", 10.0), event("shop:ann", "orders", "2024-06-01", 20.5),
        event("crm:ann", "invoices", "2024-03-01", 100.0),
        event("crm:ann", "tickets", "2024-11-15", category="Complaint - billing"),
        event("crm:ann", "tickets", "2024-12-01", category="question"),
        event("shop:bob", "tickets", "2024-10-01", category="complaint"),
        event("shop:bob", "orders", "2024-10-05", 5.0),
        *(event("shop:cat", "tickets", f"2024-12-0{d}", category="COMPLAINT") for d in (1, 2, 3)),
        event("shop:cat", "orders", "2024-12-20", 1.0),
        event("shop:dan", "tickets", "2024-01-01", category="complaint"),
        event("shop:dan", "tickets", "2024-12-31", category="question"),
        event("ghost:x", "orders", "2024-05-05", 999.0),  # no such record: counts for nobody
    ])
    build_traits(con)
    yield con
    con.close()


def test_counts_and_sums_across_silos(con: duckdb.DuckDBPyConnection) -> None:
    ann = traits_of(con, "shop:ann")
    assert (ann["lifetime_value"], ann["order_count"], ann["invoice_count"], ann["ticket_count"]) == (130.5, 2, 1, 2)
    assert (ann["first_seen"], ann["last_seen"]) == (dt.datetime(2024, 1, 10), dt.datetime(2024, 12, 1))


def test_ninety_days_count_back_from_the_latest_interaction(con: duckdb.DuckDBPyConnection) -> None:
    # now = 2024-12-31 (dan's last ticket): ann's tickets of Nov 15 and Dec 1 are inside, as is one complaint
    ann = traits_of(con, "shop:ann")
    assert (ann["tickets_90d"], ann["complaints_90d"]) == (2, 1)
    assert traits_of(con, "shop:dan")["complaints_90d"] == 0


def test_an_explicit_now_moves_the_window() -> None:
    con = warehouse([["shop:a"]], [event("shop:a", "tickets", "2024-01-15", category="complaint"),
                                   event("shop:a", "tickets", "2024-12-01", category="other")])
    stats = build_traits(con, now=dt.datetime(2024, 2, 1))
    assert stats["as_of"] == "2024-02-01T00:00:00"
    assert (traits_of(con, "shop:a")["tickets_90d"], traits_of(con, "shop:a")["complaints_90d"]) == (1, 1)


def test_customer_without_interactions_gets_a_zero_row(con: duckdb.DuckDBPyConnection) -> None:
    eve = traits_of(con, "shop:eve")
    assert eve == eve | {"lifetime_value": 0, "order_count": 0, "ticket_count": 0, "first_seen": None,
                         "last_seen": None, "recency_tier": "low", "frequency_tier": "low", "monetary_tier": "low",
                         "loyalty": "short_low_value", "churn_risk": False}
    assert con.execute("select count(*) from traits").fetchall() == [(5,)]


@pytest.mark.parametrize(("record", "at_risk"), [
    ("shop:ann", True),   # complained, no order or invoice since
    ("shop:bob", False),  # complained, then ordered again
    ("shop:cat", True),   # three complaints in 90 days, even though an order followed
    ("shop:dan", False),  # the complaint lies more than 90 days before their last activity
    ("shop:eve", False),
])
def test_churn_rule(con: duckdb.DuckDBPyConnection, record: str, at_risk: bool) -> None:
    assert traits_of(con, record)["churn_risk"] is at_risk


def test_tiers_top_20_percent_high_next_30_mid_and_ties_share_a_tier() -> None:
    records = [f"shop:{n:02d}" for n in range(10)]
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 9]  # the two 9s tie at the top
    con = warehouse([[r] for r in records], [event(r, "orders", "2024-01-01", v) for r, v in zip(records, values,
                                                                                                   strict=True)])
    build_traits(con)
    tiers = [traits_of(con, r)["monetary_tier"] for r in records]
    assert tiers == ["low"] * 5 + ["mid"] * 3 + ["high"] * 2


def test_loyalty_crosses_value_with_relationship_length() -> None:
    spans = {"shop:a": ("2020-01-01", 500.0), "shop:b": ("2024-06-01", 500.0), "shop:c": ("2019-01-01", 1.0),
             "shop:d": ("2024-11-01", 1.0)}
    events = [e for r, (since, amount) in spans.items()
              for e in (event(r, "orders", since, amount), event(r, "orders", "2024-12-01", amount))]
    con = warehouse([[r] for r in spans], events)
    build_traits(con)
    assert [traits_of(con, r)["loyalty"] for r in spans] == [
        "long_valuable", "short_valuable", "long_low_value", "short_low_value"]


def test_a_warehouse_without_interactions_gives_every_customer_zeros() -> None:
    con = duckdb.connect()
    write_clusters(con, [["shop:a"], ["shop:b"]])
    assign_customer_ids(con, "r1")
    assert build_traits(con)["as_of"] == "no interactions"
    assert con.execute("select sum(order_count), count(*) filter (where loyalty = 'short_low_value') "
                       "from traits").fetchall() == [(0, 2)]
