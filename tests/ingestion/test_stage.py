"""Staging end to end on two small silos: staged_<source>, the unions, attribute issues, interactions."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from cdp.config import Config
from cdp.schema import ATTRIBUTES
from ingestion.load import load_source
from ingestion.stage import build_unions, stage_source
from tests.utils.sources import two_sources

Staged = tuple[Config, duckdb.DuckDBPyConnection]


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    cfg = two_sources(tmp_path_factory.mktemp("stage"))
    con = duckdb.connect()
    for name, src in cfg.sources.items():
        load_source(con, name, src)
        stage_source(con, name, src)
    build_unions(con, cfg)
    return cfg, con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_staged_columns_are_the_contract(staged: Staged) -> None:
    _, con = staged
    columns = [r[0] for r in con.execute("describe staged").fetchall()]
    assert columns[:8] == ["record_id", "source", "source_id", "trust", "batch_id", "row_hash", "loaded_at",
                           "updated_at"]
    assert set(columns) >= {*ATTRIBUTES} - {"full_name"} | {"first_name_root", "name_suffix"}
    assert set(columns) >= {f"{a}_raw" for a in ATTRIBUTES}
    assert [r[0] for r in con.execute("describe staged_sales").fetchall()] == columns


def test_full_names_in_both_orders_meet_mapped_parts(staged: Staged) -> None:
    _, con = staged
    got = rows(con, "select record_id, first_name, middle_name, last_name, name_suffix, first_name_root "
                    "from staged order by record_id")
    assert [tuple(r.values()) for r in got] == [
        ("finance:1", "ROBERT", "A", "SMITH", None, "ROBERT"),
        ("finance:2", "MARGARET", None, "OBRIEN", None, "MARGARET"),
        ("sales:c1", "BOB", None, "SMITH", None, "ROBERT"),
        ("sales:c2", "PEGGY", None, "OBRIEN", "JR", "MARGARET"),
        ("sales:c4", "JOSE", None, "NUNEZ", None, "JOSE"),
    ]


def test_values_are_standardised_and_raw_kept(staged: Staged) -> None:
    _, con = staged
    [c1] = rows(con, "select * from staged where record_id = 'sales:c1'")
    assert (c1["email"], c1["phone"], c1["postcode"], c1["birth_date"], c1["country"], c1["trust"]) == (
        "bobsmith@gmail.com", "+12125550100", "10001", dt.date(1980, 3, 4), "US", 1)
    assert (c1["email_raw"], c1["phone_raw"], c1["full_name_raw"]) == (
        "Bob.Smith+news@GoogleMail.com", "(212) 555-0100", None)
    [f1] = rows(con, "select * from staged where record_id = 'finance:1'")
    assert (f1["street"], f1["tax_id"], f1["country"], f1["trust"], f1["updated_at"]) == (
        "123 N MAIN ST UNIT 4", "219099998", "US", 3, dt.datetime(2024, 1, 5, 10))


def test_invalid_values_are_null_with_an_issue_not_a_rejection(staged: Staged) -> None:
    _, con = staged
    issues = con.execute("select source, source_id, field, value, reason from attribute_issues "
                         "order by source, source_id, field").fetchall()
    assert issues == [
        ("finance", "2", "country", "Narnia", "unknown country"),
        ("finance", "2", "phone", "5550100", "not a possible phone number for US"),
        ("finance", "2", "tax_id", "000-12-3456", "not a valid SSN (area, group or serial not issued)"),
        ("finance", "2", "updated_at", "not a time", "unreadable or out-of-range time"),
        ("finance__invoices", "i2", "at", "bad", "unreadable or out-of-range time"),
        ("finance__invoices", "i3", "amount", "x", "not an amount"),
        ("sales", "c2", "birth_date", "1900-01-01", "placeholder date"),
        ("sales", "c2", "email", "peggy@@example", "not a valid email address"),
        ("sales", "c2", "phone", "12", "not a possible phone number for US"),
        ("sales__tickets", "t3", "at", "yesterday", "unreadable or out-of-range time"),
        ("sales__tickets", "t3", "record_key", "c9", "no record with this key in sales"),
    ]
    assert con.execute("select count(*) from staged where source_id in ('2', 'c2')").fetchall() == [(2,)]


def test_interactions_union(staged: Staged) -> None:
    _, con = staged
    got = con.execute('select source, name, interaction_id, record_id, "at", amount, attributes from interactions '
                      "order by source, interaction_id").fetchall()
    assert [g[:6] for g in got] == [
        ("finance", "invoices", "i1", "finance:1", dt.datetime(2024, 1, 2, 10), 1234.5),
        ("finance", "invoices", "i2", "finance:1", None, -12.0),
        ("finance", "invoices", "i3", "finance:2", dt.datetime(2024, 2, 3), None),
        ("sales", "tickets", "t1", "sales:c1", dt.datetime(2024, 3, 1, 9), None),
        ("sales", "tickets", "t3", "sales:c9", None, None),
    ]
    assert json.loads(got[0][6]) == {"paid": "yes"}


def test_restaging_replaces_issues(staged: Staged) -> None:
    cfg, con = staged
    before = con.execute("select count(*) from attribute_issues").fetchall()
    stage_source(con, "sales", cfg.sources["sales"])
    assert con.execute("select count(*) from attribute_issues").fetchall() == before
