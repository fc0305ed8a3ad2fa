"""The serving store: migrations create the schema, and a failed or killed publish leaves the previous
version in place and readable (SQLite and the real PostgreSQL).

Run as a module, this file is the publishing process the kill tests stop:
    python -m tests.serving.test_store URL WAREHOUSE MARKER {load,swap}
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cdp.config import Config
from cdp.schema import TRAITS
from cdp.warehouse import open_warehouse
from serving import tables
from serving.publish import publish, warehouse_version
from serving.store import ServingStore
from tests.utils.publishing import copy_ingested, ingest, resolve

APART = [["finance:1"], ["sales:c1"], ["finance:2"], ["sales:c2"], ["sales:c4"]]
"""Version 1: five customers. Version 2 (tests.utils.publishing.PEOPLE) merges the first two."""
ROOT = Path(__file__).resolve().parents[2]


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every serving table, sorted: what a reader can see."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return {t.name: sorted((tuple(r) for r in con.execute(sa.select(t))), key=repr)
                    for t in tables.metadata.sorted_tables}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two sources ingested and resolved APART."""
    folder = tmp_path_factory.mktemp("resolved")
    resolve(ingest(folder, "sqlite:///unused.db"), APART, run_id="r1")
    return folder


@pytest.fixture
def published(resolved: Path, tmp_path: Path, store_url: str) -> tuple[Config, dict[str, list[tuple[Any, ...]]]]:
    """Version 1 published from a copy of `resolved` (no test here ingests it again), the warehouse already at
    version 2; and the store's contents."""
    cfg = copy_ingested(resolved, tmp_path, store_url)
    with open_warehouse(cfg.warehouse_path) as con:
        assert publish(con, store_url, "v1").version == 1
    resolve(cfg, run_id="r2")
    before = snapshot(store_url)
    assert len(before["profiles"]) == 5
    return cfg, before


def test_migrations_create_the_schema_of_tables_py(store_url: str) -> None:
    store = ServingStore.open(store_url)
    try:
        store.migrate()
        store.migrate()  # at head already: nothing to do
        with store.engine.connect() as con:
            assert compare_metadata(MigrationContext.configure(con), tables.metadata) == []
            assert set(sa.inspect(con).get_table_names()) == {t.name for t in tables.metadata.sorted_tables} | {
                "alembic_version"}
        assert store.current_version() is None
    finally:
        store.close()


def test_indexes_keep_their_names_across_publishes(published: tuple[Config, Any], store_url: str) -> None:
    cfg, _ = published
    with open_warehouse(cfg.warehouse_path) as con:
        publish(con, store_url, "v2")
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as con:
            for table in tables.metadata.sorted_tables:
                names = {i["name"] for i in sa.inspect(con).get_indexes(table.name)}
                assert names == {i.name for i in table.indexes}
                assert compare_metadata(MigrationContext.configure(con), tables.metadata) == []
    finally:
        engine.dispose()


def test_an_error_while_loading_keeps_the_previous_version(published: tuple[Config, Any], store_url: str) -> None:
    cfg, before = published

    def broken(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from batches
        raise OSError("warehouse read failed")

    store = ServingStore.open(store_url)
    try:
        with open_warehouse(cfg.warehouse_path) as con:
            data = warehouse_version(con)
            data[tables.timeline] = broken(data[tables.timeline])  # the last table, after the others loaded
            with pytest.raises(OSError, match="warehouse read failed"):
                store.publish(data, "v2")
    finally:
        store.close()
    assert snapshot(store_url) == before


def test_a_load_failing_with_batches_unread_fails_the_publish(published: tuple[Config, Any], store_url: str) -> None:
    # Its reader is left waiting to hand out the rest, and the reader of a later table waits for that one: the
    # publish once waited for ever.
    _, before = published
    nulls = pa.RecordBatch.from_pydict({c.name: pa.nulls(10, pa.string()) for c in tables.profiles.columns})
    data: dict[sa.Table, list[pa.RecordBatch]] = {table: [] for table in tables.PUBLISHED}
    data[tables.profiles] = [nulls] * 8  # NULL in NOT NULL columns: the first batch fails
    errors: list[BaseException] = []

    def publishing() -> None:
        store = ServingStore.open(store_url)
        try:
            store.publish(data, "v2")
        except Exception as error:  # noqa: BLE001 (asserted below)
            errors.append(error)
        finally:
            store.close()

    thread = threading.Thread(target=publishing, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the publish is still waiting"
    assert re.search("NOT NULL constraint failed|violates not-null constraint", str(errors[0]))
    assert snapshot(store_url) == before


def test_a_failed_publish_ends_after_the_queries_it_was_reading(published: tuple[Config, Any], store_url: str) -> None:
    # A reader stopped inside its query held a cursor of the warehouse connection after the publish had failed,
    # and closing that connection then failed ("connection is busy"): seen once in CI.
    _, before = published
    nulls = pa.RecordBatch.from_pydict({c.name: pa.nulls(10, pa.string()) for c in tables.profiles.columns})
    querying, finished = threading.Event(), threading.Event()

    def profiles() -> Iterator[pa.RecordBatch]:
        try:
            yield nulls  # NULL in NOT NULL columns: the load fails on it
            querying.set()
            time.sleep(1)  # the query for the next batch still runs when the load has failed
            yield nulls
        finally:
            finished.set()

    data: dict[sa.Table, Any] = {table: [] for table in tables.PUBLISHED}
    data[tables.profiles] = profiles()
    store = ServingStore.open(store_url)
    try:
        with pytest.raises(Exception, match="NOT NULL constraint failed|violates not-null constraint"):
            store.publish(data, "v2")
        assert querying.is_set() and finished.is_set()
    finally:
        store.close()
    assert snapshot(store_url) == before


def test_an_error_after_the_swap_keeps_the_previous_version(published: tuple[Config, Any], store_url: str) -> None:
    cfg, before = published
    store = ServingStore.open(store_url)

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def fail_on_log(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lower().startswith("insert into publish_log"):  # every table is swapped by now
            raise RuntimeError("disk full")

    try:
        with open_warehouse(cfg.warehouse_path) as con, pytest.raises(RuntimeError, match="disk full"):
            store.publish(warehouse_version(con), "v2")
    finally:
        store.close()
    assert snapshot(store_url) == before


@pytest.mark.parametrize("moment", ["load", "swap"])
def test_a_killed_publish_keeps_the_previous_version(published: tuple[Config, Any], store_url: str,
                                                     tmp_path: Path, moment: str) -> None:
    cfg, before = published
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-m", "tests.serving.test_store", store_url,
                              str(cfg.warehouse_path), str(marker), moment], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the publishing process ended before it was killed"
            assert time.monotonic() < deadline, "the publishing process never reached the moment"
            time.sleep(0.05)
        # PostgreSQL readers wait for the swap's locks, so they read only after the kill; SQLite (WAL)
        # and PostgreSQL during the load serve the previous version while the publish is under way.
        if moment == "load" or store_url.startswith("sqlite"):
            assert snapshot(store_url) == before
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert snapshot(store_url) == before
    with open_warehouse(cfg.warehouse_path) as con:  # and the store takes the next publish
        assert publish(con, store_url, "v2").version == 2
    assert len(snapshot(store_url)["profiles"]) == 4
    assert not list(tmp_path.glob("serving.db.load-*"))  # SQLite: the killed load's scratch files are gone too


def test_an_unknown_engine_is_named() -> None:
    with pytest.raises(ValueError, match="no store for 'mysql'"):
        ServingStore.open("mysql+pymysql://root@127.0.0.1/test")


def _publish_until_killed(url: str, warehouse: str, marker: Path, moment: str) -> None:
    """Publish the warehouse, but stop for good at `moment`: `load` (half the tables in their shadows) or
    `swap` (every table swapped, publish_log not yet written, nothing committed); mark the file then."""

    def wait_here() -> None:
        marker.write_text(moment)
        time.sleep(600)

    def stall(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from batches
        wait_here()

    store = ServingStore.open(url)

    @sa.event.listens_for(store.engine, "before_cursor_execute")
    def stall_on_log(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if moment == "swap" and statement.lower().startswith("insert into publish_log"):
            wait_here()

    with open_warehouse(warehouse) as con:
        data = warehouse_version(con)
        if moment == "load":
            data[tables.source_records] = stall(data[tables.source_records])
        store.publish(data, "killed")


if __name__ == "__main__":
    _publish_until_killed(sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4])


def test_profiles_carry_the_registry_traits_after_the_document_parts() -> None:
    assert tuple(c.name for c in tables.profiles.columns) == ("customer_id", "attributes", "lineage", "sources",
                                                              *TRAITS)
