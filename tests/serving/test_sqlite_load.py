"""The SQLite store's load (ADBC binds the rows into a file of their own, then one INSERT ... SELECT) stores what
the sqlite3 module's executemany of Python values stored before it: every value of every published table, with its
storage class, for a warehouse's publish and for batches of every Arrow type a publish may hand the store."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import Connection, Table

from cdp.warehouse import open_warehouse
from serving import tables
from serving.publish import publish
from serving.store import Batches, SqliteStore
from tests.api.conftest import world_builder
from tests.utils.publishing import copy_ingested, ingest, resolve


def rows_load(self: SqliteStore, conn: Connection, shadow: Table, batches: Batches) -> int:
    """The load this one replaced, as the reference: a Python object per value, through executemany."""
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sql = f"insert into {shadow.name} values ({', '.join('?' for _ in shadow.columns)})"
    rows = 0
    for batch in batches:
        columns = [self._column(col).to_pylist() for col in batch.columns]
        cursor.executemany(sql, zip(*columns, strict=True))
        rows += batch.num_rows
    return rows


def stored(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every published table's rows in key order: the rowid where the table has one, then each column's storage
    class and value."""
    with sqlite3.connect(path) as con:
        out = {}
        for table in tables.PUBLISHED:
            rowid = ["rowid"] if table.dialect_options["sqlite"]["with_rowid"] is not False else []
            columns = ", ".join([*rowid, *(f"typeof({c.name}), {c.name}" for c in table.columns)])
            key = ", ".join(c.name for c in table.primary_key.columns)
            out[table.name] = con.execute(f"select {columns} from {table.name} order by {key}").fetchall()
    con.close()
    return out


def both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, publish_into: Any) -> tuple[dict[str, Any], ...]:
    """What `publish_into(url)` stores through the rows' load and through this one."""
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("rows", "bulk")}
    with monkeypatch.context() as patched:
        patched.setattr(SqliteStore, "_load", rows_load)
        publish_into(urls["rows"])
    publish_into(urls["bulk"])
    return stored(tmp_path / "rows.db"), stored(tmp_path / "bulk.db")


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("resolved")
    resolve(ingest(folder, "sqlite:///unused.db"))
    return folder


def test_a_warehouse_publishes_the_same_values_and_storage_classes(resolved: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = copy_ingested(resolved, tmp_path, "sqlite:///unused.db")

    def publish_into(url: str) -> None:
        with open_warehouse(cfg.warehouse_path) as con:
            publish(con, url, "r1", full=True)

    by_rows, bulk = both_ways(tmp_path, monkeypatch, publish_into)
    assert bulk == by_rows
    assert by_rows["profiles"] and by_rows["search_keys"] and by_rows["timeline"] and by_rows["match_records"]


def odd_profiles(first: int) -> dict[str, pa.Array]:
    """Four profiles whose columns hold each kind of Arrow array a publish may hand the store, several of them of
    another type than the column's (SQLite keeps what its affinity cannot convert)."""
    return {
        "customer_id": pa.array([f"Z{first + i}" for i in range(4)]),
        "attributes": pa.array(['{"name": "Zoë"}', "", "it's a \x00 nul", "{}"], pa.large_string()),
        "lineage": pa.array(["{}", "{}", "[]", "{}"]).dictionary_encode(),
        "sources": pa.array(["[]", "[]", "[]", "[]"], pa.string_view()),
        "lifetime_value": pa.array([float("nan"), float("inf"), -0.0, 1e300]),
        "order_count": pa.array([1.0, 2.5, None, 2.0**53]),
        "invoice_count": pa.array([2**63 - 1, -(2**63), None, 0], pa.int64()),
        "ticket_count": pa.array([1, 2, 3, None], pa.int32()),
        "first_seen": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 678901), None, dt.datetime(1, 1, 1),
                                dt.datetime(2024, 1, 2)], pa.timestamp("us")),
        "last_seen": pa.array([dt.date(2024, 1, 2), None, dt.date(1, 1, 1), dt.date(9999, 12, 31)], pa.date32()),
        "tickets_90d": pa.array(["7", "x", "", None]),
        "complaints_90d": pa.array([True, False, None, True]),
        "recency_tier": pa.array([1, 2, None, 3], pa.int64()),
        "frequency_tier": pa.array([1.5, None, 2.0, -0.0]),
        "monetary_tier": pa.array([b"\x00\x01", b"", None, b"x"]),
        "loyalty": pa.nulls(4),
        "churn_risk": pa.array([True, False, None, True]),
    }


def odd_batches() -> list[pa.RecordBatch]:
    """Three batches of profiles: the second with other types in some columns than the first, the third empty."""
    second = {**odd_profiles(5), "loyalty": pa.array(["long_valuable", None, "", "x"]),
              "first_seen": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 678000), None, None, None],
                                     pa.timestamp("ms", tz="UTC")),
              "order_count": pa.array([1, 2, None, 2**53 + 1], pa.uint64()),
              "churn_risk": pa.array([1, 0, None, 2], pa.int8())}
    empty = {name: array.slice(0, 0) for name, array in odd_profiles(9).items()}
    return [pa.RecordBatch.from_pydict(columns) for columns in (odd_profiles(1), second, empty)]


def test_every_arrow_type_publishes_the_same_values_and_storage_classes(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def publish_into(url: str) -> None:
        world_builder(url).publish(more={tables.profiles: odd_batches()})

    by_rows, bulk = both_ways(tmp_path, monkeypatch, publish_into)
    assert bulk == by_rows
    classes = {value for row in by_rows["profiles"] for value in row[1::2]}
    assert classes == {"null", "integer", "real", "text", "blob"}
    assert by_rows["review_candidates"] and by_rows["customer_links"] and by_rows["redirects"]
