"""The schema registry: every registered DDL creates in DuckDB, and says what the stages really write."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cdp.schema import (
    SOURCE_INTERACTIONS,
    TABLES,
    TRAITS,
    TRAITS_TABLE,
    Table,
    create_table,
    ensure_tables,
    interactions_table,
)
from cdp.warehouse import open_warehouse
from tests.utils.publishing import ingest, resolve

FIXED = (*TABLES.values(), SOURCE_INTERACTIONS)


def columns_of(con: duckdb.DuckDBPyConnection, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = ? order by ordinal_position", [name]).fetchall())


@pytest.mark.parametrize("table", FIXED, ids=lambda t: t.name)
def test_every_registered_table_creates_with_its_columns(table: Table) -> None:
    con = duckdb.connect()
    create_table(con, table, "t")
    assert columns_of(con, "t") == table.columns


def test_ensure_keeps_existing_rows_and_replace_empties() -> None:
    con = duckdb.connect()
    ensure_tables(con, "id_counter")
    con.execute("insert into id_counter values (7)")
    ensure_tables(con, "id_counter")
    assert con.execute("select * from id_counter").fetchall() == [(7,)]
    create_table(con, TABLES["id_counter"], replace=True)
    assert con.execute("select count(*) from id_counter").fetchall() == [(0,)]


def test_the_tables_stages_write_have_their_registered_columns(tmp_path: Path) -> None:
    """Ingestion and the identity steps over two small sources: each table they build matches the registry,
    those created by a query (clusters, golden, traits, ...) included."""
    cfg = ingest(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}")
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        built = {name for (name,) in con.execute("select table_name from duckdb_tables()").fetchall()}
        checked = built & set(TABLES)
        assert checked >= {"quarantine", "attribute_issues", "load_log", "clusters", "record_customer", "customers",
                           "id_history", "id_redirects", "id_counter", "golden", "lineage", "traits"}
        for name in checked:
            assert columns_of(con, name) == TABLES[name].columns, name
        for source in cfg.sources:
            assert columns_of(con, interactions_table(source)) == SOURCE_INTERACTIONS.columns


def test_the_trait_list_is_the_traits_table_after_its_key() -> None:
    assert TRAITS_TABLE == "traits" and TABLES[TRAITS_TABLE].column_names == ("customer_id", *TRAITS)
