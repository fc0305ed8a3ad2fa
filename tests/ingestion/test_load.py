"""Raw load: publishable rows in raw_<feed>, the rest quarantined with a reason, every load logged."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cdp.config import Config, ConfigError
from cdp.schema import RAW_META
from ingestion.load import load_source
from tests.utils.sources import CONTACT_HEADER, sales_source, two_sources, write_config, write_csv


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, duckdb.DuckDBPyConnection]:
    cfg = two_sources(tmp_path_factory.mktemp("load"))
    con = duckdb.connect()
    for name, src in cfg.sources.items():
        load_source(con, name, src)
    return cfg, con


def test_raw_table_has_source_columns_then_bookkeeping(loaded: tuple[Config, duckdb.DuckDBPyConnection]) -> None:
    _, con = loaded
    columns = [r[0] for r in con.execute("describe raw_sales").fetchall()]
    assert columns == [*CONTACT_HEADER, *RAW_META]
    rows = con.execute("select _key, _row_number, _source, length(_row_hash) from raw_sales order by 2").fetchall()
    assert rows == [("c1", 1, "sales", 32), ("c2", 2, "sales", 32), ("c4", 5, "sales", 32)]


def test_quarantine_says_why_and_which_row_is_kept(loaded: tuple[Config, duckdb.DuckDBPyConnection]) -> None:
    _, con = loaded
    rows = con.execute("select source, source_id, row_number, reason, raw from quarantine "
                       "where source like 'sales%' order by source, row_number").fetchall()
    assert [r[:4] for r in rows] == [
        ("sales", "c1", 3, "duplicate key: row 1 has the same contact_id and is kept"),
        ("sales", None, 4, "blank key (column contact_id)"),
        ("sales__tickets", None, 2, "unreadable record: not a JSON object"),
        ("sales__tickets", "t2", 3, "blank record key (column requester)"),
    ]
    assert json.loads(rows[0][4])["first_name"] == "Robert"
    assert json.loads(rows[2][4]) == {"_line": "not json"}


def test_every_row_in_is_published_or_quarantined(loaded: tuple[Config, duckdb.DuckDBPyConnection]) -> None:
    _, con = loaded
    log = con.execute("select source, rows_in, rows_published, rows_quarantined from load_log order by 1").fetchall()
    assert log == [("finance", 2, 2, 0), ("finance__invoices", 4, 3, 1), ("sales", 5, 3, 2),
                   ("sales__tickets", 4, 2, 2)]
    for source, rows_in, published, quarantined in log:
        raw = con.execute(f"select count(*) from raw_{source}").fetchall()[0][0]
        held = con.execute("select count(*) from quarantine where source = ?", [source]).fetchall()[0][0]
        assert (raw, held, published + quarantined) == (published, quarantined, rows_in)


def test_surplus_field_row_is_quarantined_with_its_text(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,name\n1,Ann\n2,Bob,surplus\n3,Cy\n")
    cfg = write_config(tmp_path, {"s": {"connector": "csv", "path": "c.csv", "key": "id", "fields": {}}})
    con = duckdb.connect()
    [stats] = load_source(con, "s", cfg.sources["s"])
    assert (stats.rows_in, stats.rows_published, stats.rows_quarantined) == (3, 2, 1)
    assert con.execute("select row_number, reason, raw->>'_line' from quarantine").fetchall() == [
        (2, "unreadable record: Expected Number of Columns: 2 Found: 3", "2,Bob,surplus")]
    assert con.execute("select _row_number, name from raw_s order by 1").fetchall() == [(1, "Ann"), (3, "Cy")]


def test_reload_counts_new_changed_and_vanished_keys(tmp_path: Path) -> None:
    source = sales_source(tmp_path)
    cfg = write_config(tmp_path, {"sales": source | {"interactions": []}})
    con = duckdb.connect()
    load_source(con, "sales", cfg.sources["sales"])
    write_csv(tmp_path / "sales_contacts.csv", CONTACT_HEADER, [
        ("c1", "Bob", "Smith", "Bob.Smith+news@GoogleMail.com", "(212) 555-0100", "10001-1234", "03/04/1980"),
        ("c2", "Peggy", "O'Brien", "peggy@example.com", "", "", ""),
        ("c7", "New", "Person", "", "", "", ""),
    ])
    [stats] = load_source(con, "sales", cfg.sources["sales"])
    assert (stats.rows_new, stats.rows_changed, stats.rows_vanished) == (1, 1, 1)
    assert con.execute("select count(*) from quarantine where source = 'sales'").fetchall() == [(0,)]
    assert con.execute("select count(*) from load_log where source = 'sales'").fetchall() == [(2,)]


def test_a_mapped_column_missing_from_the_data_stops_the_load(tmp_path: Path) -> None:
    write_csv(tmp_path / "c.csv", ["id"], [["1"]])
    cfg = write_config(tmp_path, {"s": {"connector": "csv", "path": "c.csv", "key": "id", "fields": {"email": "mail"}}})
    con = duckdb.connect()
    with pytest.raises(ConfigError, match=r"sources.s.fields.email: column 'mail' not found in c.csv \(columns: id\)"):
        load_source(con, "s", cfg.sources["s"])
    assert con.execute("select count(*) from duckdb_tables() where table_name = 'raw_s'").fetchall() == [(0,)]
