"""The warehouse side of erasure (purge) and an erasure that lands while a publish loads its version."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from cdp.config import Config
from cdp.datakey import key_id, record_hash
from cdp.warehouse import open_warehouse
from serving import tables
from serving.erasure import latest_suppression, reapply
from serving.publish import publish
from serving.suppress import SUPPRESSION_SCHEMA, purge, store_suppressions, sync
from tests.utils.publishing import ingest, resolve

KEY = b"serving-test-key"
BOB = ("finance", "1"), ("sales", "c1")
"""Bob Smith's two records: one customer (tests.utils.publishing.PEOPLE)."""


def listed(*records: tuple[str, str]) -> pa.Table:
    return pa.Table.from_pylist([{"record_hash": record_hash(KEY, s, i), "key_id": key_id(KEY),
                                  "at": dt.datetime(2026, 11, 30)} for s, i in records], SUPPRESSION_SCHEMA)


def published_records(url: str) -> dict[str, str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return {f"{s}:{i}": c for s, i, c in con.execute(sa.select(tables.source_records))}
    finally:
        engine.dispose()


def count(cfg: Config, sql: str) -> int:
    with open_warehouse(cfg.warehouse_path, read_only=True) as con:
        return int(con.execute(sql).fetchall()[0][0])


def test_purging_one_record_keeps_its_customer_without_it(tmp_path: Path) -> None:
    cfg = ingest(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        assert sync(con, listed(("sales", "c1"))) == 1 and sync(con, listed(("sales", "c1"))) == 0
        done = purge(con, cfg, KEY)
    assert (done.records, done.customers) == (1, 0)
    assert count(cfg, "select count(*) from staged where record_id = 'sales:c1'") == 0
    assert count(cfg, "select count(*) from raw_sales where _key = 'c1'") == 0
    assert count(cfg, "select count(*) from raw_sales__tickets where requester = 'c1'") == 0
    assert count(cfg, "select count(*) from lineage where source = 'sales' and source_id = 'c1'") == 0
    assert count(cfg, "select count(*) from record_customer where record_id = 'finance:1'") == 1


def test_purging_every_record_of_a_customer_takes_the_customer_out(tmp_path: Path) -> None:
    cfg = ingest(tmp_path, f"sqlite:///{tmp_path / 'serving.db'}")
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        customer = con.execute("select customer_id from record_customer where record_id = 'finance:1'").fetchall()[0][0]
        sync(con, listed(*BOB))
        duplicate_invoice = "select count(*) from quarantine where source = 'finance__invoices' and source_id = 'i3'"
        assert con.execute(duplicate_invoice).fetchall() == [(1,)]  # account 1's second i3, with its values
        done = purge(con, cfg, KEY)
        assert con.execute(duplicate_invoice).fetchall() == [(0,)]
        assert (done.records, done.customers) == (2, 1)
        for table in ("customers", "golden", "lineage", "traits", "record_customer", "id_history"):
            assert con.execute(f"select count(*) from {table} where customer_id = ?", [customer]).fetchall() == [(0,)]
        assert con.execute("select count(*) from interactions where record_id in ('finance:1', 'sales:c1')"
                           ).fetchall() == [(0,)]
        assert con.execute("select count(*) from customers").fetchall() == [(3,)]
        assert purge(con, cfg, KEY).records == 0  # nothing left to take out


def test_an_erasure_during_a_publish_is_applied_to_the_version_it_swaps_in(tmp_path: Path, store_url: str) -> None:
    cfg = ingest(tmp_path, store_url)
    resolve(cfg)
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, store_url)
    assert store_suppressions(store_url).num_rows == 0 and latest_suppression(store_url) == 0
    through = latest_suppression(store_url)
    engine = sa.create_engine(store_url)  # the erasure lands after the warehouse was read: it still holds Bob
    with engine.begin() as con:
        con.execute(sa.insert(tables.suppressions), listed(*BOB).to_pylist())
    engine.dispose()
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, store_url, before_commit=reapply(KEY, through))
    records = published_records(store_url)
    assert "finance:1" not in records and "sales:c1" not in records
    assert {"finance:2", "sales:c2", "sales:c4"} <= records.keys()
    assert latest_suppression(store_url) == 2 and store_suppressions(store_url).num_rows == 2


def test_asking_a_store_that_does_not_exist_yet_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'not-yet' / 'serving.db'}"
    assert latest_suppression(url) == 0 and store_suppressions(url).num_rows == 0
    assert not (tmp_path / "not-yet").exists()
