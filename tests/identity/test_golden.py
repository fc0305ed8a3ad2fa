"""Golden profiles: survivorship order per attribute, the deciding rule, lineage, addresses kept whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from cdp.config import IdentityConfig
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from tests.utils.staged import staged_row, write_staged
from tests.utils.warehouse import write_clusters

OLD, NEW = dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1)


def build(records: list[dict[str, Any]], **survivorship: list[str]) -> duckdb.DuckDBPyConnection:
    """Warehouse with the records as one customer per source_id's leading letter ('a1', 'a2' -> one customer)."""
    con = duckdb.connect()
    write_staged(con, [r | {"loaded_at": r["loaded_at"] or OLD} for r in records])
    groups: dict[str, list[str]] = {}
    for r in records:
        groups.setdefault(r["source_id"][0], []).append(r["record_id"])
    write_clusters(con, groups.values())
    assign_customer_ids(con, "r1")
    build_golden(con, IdentityConfig(survivorship=survivorship))
    return con


def lineage(con: duckdb.DuckDBPyConnection, attribute: str) -> tuple[str, str, str, str]:
    """(value, source, source_id, rule) of the first customer's attribute."""
    rows = con.execute("select value, source, source_id, rule from lineage where customer_id = 'C000000001' "
                       "and attribute = ?", [attribute]).fetchall()
    assert len(rows) == 1
    return rows[0]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """One customer whose three records disagree in different ways."""
    con = build([
        staged_row("finance", "a1", trust=3, email="A@X.COM", phone="+15550001", first_name="ANN",
                   updated_at=OLD, birth_date=dt.date(1980, 2, 3)),
        staged_row("sales", "a2", trust=1, email="B@X.COM", phone="+15550002", first_name="ANN",
                   updated_at=NEW, last_name="LEE"),
        staged_row("service", "a3", trust=1, phone="+15550002", first_name="ANNIE", last_name="LI",
                   loaded_at=NEW),
        staged_row("sales", "b1", email="C@X.COM"),
    ])
    yield con
    con.close()


def test_higher_trust_wins(con: duckdb.DuckDBPyConnection) -> None:
    assert lineage(con, "email") == ("A@X.COM", "finance", "a1", "trust")


def test_recent_decides_when_trust_ties_and_updated_at_outranks_loaded_at(con: duckdb.DuckDBPyConnection) -> None:
    # a2 and a3 tie on trust 1; a2 has an updated_at, a3 only a newer loaded_at
    assert lineage(con, "last_name") == ("LEE", "sales", "a2", "recent")


def test_loaded_at_decides_when_neither_record_has_updated_at() -> None:
    con = build([staged_row("sales", "a1", city="OLDTOWN"), staged_row("sales", "a2", city="NEWTOWN", loaded_at=NEW)])
    assert lineage(con, "city") == ("NEWTOWN", "sales", "a2", "recent")


def test_configured_order_frequent_first() -> None:
    con = build([staged_row("finance", "a1", trust=3, phone="+15550001"),
                 staged_row("sales", "a2", phone="+15550002"), staged_row("service", "a3", phone="+15550002")],
                phone=["frequent", "trust"])
    assert lineage(con, "phone") == ("+15550002", "sales", "a2", "frequent")


def test_records_agreeing_on_one_value_is_rule_only_from_the_best_record(con: duckdb.DuckDBPyConnection) -> None:
    assert lineage(con, "birth_date") == ("1980-02-03", "finance", "a1", "only")


def test_nulls_do_not_compete(con: duckdb.DuckDBPyConnection) -> None:
    # finance (trust 3) has no last name: its NULL does not win, the trust-1 records decide among themselves
    assert con.execute("select last_name from golden where customer_id = 'C000000001'").fetchall() == [("LEE",)]
    assert con.execute("select count(*) from lineage where attribute = 'middle_name'").fetchall() == [(0,)]


def test_tie_on_every_rule_goes_to_the_value_of_the_smallest_record_id() -> None:
    con = build([staged_row("sales", "a2", email="M@X.COM"), staged_row("sales", "a1", email="Z@X.COM")])
    assert lineage(con, "email") == ("Z@X.COM", "sales", "a1", "tiebreak")


def test_golden_has_one_row_per_customer_with_typed_columns(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("select customer_id, email, phone, first_name, last_name, birth_date from golden "
                       "order by customer_id").fetchall()
    assert rows == [("C000000001", "A@X.COM", "+15550001", "ANN", "LEE", dt.date(1980, 2, 3)),
                    ("C000000002", "C@X.COM", None, None, None, None)]


def test_crosswalk_lists_every_source_record(con: duckdb.DuckDBPyConnection) -> None:
    assert con.execute("select * from crosswalk order by source, source_id").fetchall() == [
        ("finance", "a1", "C000000001"), ("sales", "a2", "C000000001"), ("sales", "b1", "C000000002"),
        ("service", "a3", "C000000001")]


def test_address_parts_survive_together_from_one_record() -> None:
    con = build([
        # most trusted, but without a postcode: its postcode stays empty rather than borrowing one
        staged_row("finance", "a1", trust=3, street="1 MAIN ST", city="SPRINGFIELD", state="IL", country="US"),
        staged_row("sales", "a2", street="9 ELM RD", city="SALEM", state="OR", postcode="97301", country="US",
                   updated_at=NEW),
        staged_row("service", "a3", country="CA", trust=5),
    ])
    golden = con.execute("select street, city, state, postcode, country from golden").fetchall()
    assert golden == [("1 MAIN ST", "SPRINGFIELD", "IL", None, "US")]
    rows = con.execute("select attribute, source_id, rule from lineage where attribute in "
                       "('street', 'city', 'state', 'postcode', 'country') order by attribute").fetchall()
    assert rows == [("city", "a1", "trust"), ("country", "a1", "trust"), ("state", "a1", "trust"),
                    ("street", "a1", "trust")]


def test_address_follows_the_rules_of_street_and_country_alone_its_own() -> None:
    con = build([
        staged_row("finance", "a1", trust=3, street="1 MAIN ST", postcode="62701"),
        staged_row("sales", "a2", street="9 ELM RD", postcode="97301", updated_at=NEW),
        staged_row("sales", "b1", country="US"), staged_row("finance", "b2", country="CA", trust=2),
    ], street=["recent"], postcode=["trust"])
    assert lineage(con, "street") == ("9 ELM RD", "sales", "a2", "recent")
    assert lineage(con, "postcode") == ("97301", "sales", "a2", "recent")
    assert con.execute("select country from golden where customer_id = 'C000000002'").fetchall() == [("CA",)]


def test_display_is_the_winning_records_own_spelling_or_title_case() -> None:
    con = build([
        staged_row("crm", "a1", trust=2, first_name="JOSE", first_name_raw=" José ", last_name="OBRIEN-LEE",
                   last_name_raw="O'BRIEN-LEE", street="7323 E CHESTNUT ST APT 4B", street_raw="7323 East Chestnut",
                   city="MCALLEN", city_raw="McAllen", phone="+15125550100", email="jose@x.com"),
        staged_row("shop", "a2", trust=1, first_name="JOE", first_name_raw="Joe", phone="+447700900123"),
    ])
    display = dict(con.execute("select attribute, display from lineage where customer_id = 'C000000001'").fetchall())
    assert display == {
        "first_name": "José",  # the winner's own spelling of JOSE, trimmed
        "last_name": "O'Brien-Lee",  # sent in capitals: title case, after the apostrophe and the hyphen too
        "street": "7323 E Chestnut St Apt 4B",  # the standardised street in title case, E and 4B kept
        "city": "McAllen", "phone": "+1 512-555-0100", "email": "jose@x.com"}
