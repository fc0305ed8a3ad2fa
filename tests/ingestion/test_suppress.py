"""Loads keep erased records out: their rows and their interactions quarantined as 'erased', without values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from cdp.config import ConfigError
from cdp.datakey import key_id, record_hash
from cdp.schema import SUPPRESSIONS, ensure_tables
from ingestion.load import load_source
from tests.utils.sources import two_sources

KEY = b"load-test-key"


def suppress(con: duckdb.DuckDBPyConnection, key: bytes, *records: tuple[str, str]) -> None:
    ensure_tables(con, SUPPRESSIONS)
    for source, source_id in records:
        con.execute(f"insert into {SUPPRESSIONS} values (?, ?, ?)",
                    [record_hash(key, source, source_id), key_id(key), dt.datetime(2026, 11, 30)])


def test_an_erased_record_and_its_interactions_are_quarantined_without_values(tmp_path: Path) -> None:
    cfg = two_sources(tmp_path)
    con = duckdb.connect()
    suppress(con, KEY, ("sales", "c1"), ("finance", "1"))
    for name, src in cfg.sources.items():
        load_source(con, name, src, KEY)
    assert con.execute("select _key from raw_sales order by _key").fetchall() == [("c2",), ("c4",)]
    assert con.execute("select _key from raw_finance").fetchall() == [("2",)]
    assert con.execute("select _key from raw_sales__tickets").fetchall() == [("t3",)]  # t1 was c1's
    assert con.execute("select _key from raw_finance__invoices").fetchall() == [("i3",)]  # the first i3 is account 2
    erased = con.execute("select source, source_id, row_number, raw from quarantine where reason = 'erased' "
                         "order by source, row_number").fetchall()
    assert erased == [("finance", "1", 1, None), ("finance__invoices", "i1", 1, None),
                      ("finance__invoices", "i2", 2, None), ("finance__invoices", "i3", 4, None),
                      ("sales", "c1", 1, None), ("sales", "c1", 3, None), ("sales__tickets", "t1", 1, None)]


def test_a_list_hashed_under_another_key_stops_the_load(tmp_path: Path) -> None:
    cfg = two_sources(tmp_path)
    con = duckdb.connect()
    suppress(con, b"the key of another day", ("sales", "c1"))
    for key in (KEY, None):
        with pytest.raises(ConfigError, match="CDP_DATA_KEY"):
            load_source(con, "sales", cfg.sources["sales"], key)


def test_without_a_list_nothing_changes(tmp_path: Path) -> None:
    cfg = two_sources(tmp_path)
    con = duckdb.connect()
    load_source(con, "sales", cfg.sources["sales"])
    assert con.execute("select count(*) from quarantine where reason = 'erased'").fetchall() == [(0,)]
    assert con.execute("select count(*) from raw_sales").fetchall() == [(3,)]
