"""Partial publishes (serving.incremental): the dirty customers' rows replaced in one transaction give the same
served tables and change feed as a full publish of the same warehouse (SQLite and the real PostgreSQL, plain and
sealed), and every case that cannot trust the live version publishes in full."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from cdp.config import Config
from cdp.datakey import ENV_DATA_KEY
from cdp.resources import FULL_RUN_TAG, ServingResource, WarehouseResource
from cdp.schema import DIRTY_ALL, DIRTY_CUSTOMERS, GOLDEN, RECORD_CUSTOMER, ensure_tables
from cdp.sealing import Sealer, place_of
from cdp.warehouse import open_warehouse
from serving.assets import published_asset
from serving.publish import PublishStats, publish
from serving.seal import Sealing
from serving.tables import PUBLISHED, SEALED, changes
from tests.utils.publishing import PEOPLE, copy_ingested, ingest, postgres_schema, resolve

BOB, MARGARET, PEGGY, JOSE = "C000000001", "C000000002", "C000000003", "C000000004"
SECOND = (("finance:1",), ("sales:c1",), ("finance:2", "sales:c2"), ("sales:c4",))
"""Bob split in two, Margaret and Peggy merged, Jose as he was (his email changes in `change`)."""
KEY = "a test data key of 32+ characters, not a secret"
PII = ("email", "phone", "tax_id", "birth_date", "street")


@pytest.fixture(params=["sqlite", "postgresql"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty serving stores of one kind: one published partially, the other in full, to compare."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'partial.db'}", f"sqlite:///{tmp_path / 'full.db'}"
    else:
        with postgres_schema() as partial, postgres_schema() as full:
            yield partial, full


@pytest.fixture(params=["plain", "sealed"])
def sealing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Sealing | None:
    if request.param == "plain":
        return None
    monkeypatch.setenv(ENV_DATA_KEY, KEY)
    return Sealing.of(Sealer.from_env(), PII)


def run(cfg: Config, url: str, sealing: Sealing | None = None, **options: Any) -> PublishStats:
    with open_warehouse(cfg.warehouse_path) as con:
        return publish(con, url, "run", sealing=sealing, **options)


def mark(cfg: Config, *customers: str) -> None:
    with open_warehouse(cfg.warehouse_path) as con:
        ensure_tables(con, DIRTY_CUSTOMERS)
        con.executemany(f"insert or ignore into {DIRTY_CUSTOMERS} values (?)", [[c] for c in customers])


def dirty(cfg: Config) -> list[str]:
    with open_warehouse(cfg.warehouse_path, read_only=True) as con:
        return [r[0] for r in con.execute(f"select customer_id from {DIRTY_CUSTOMERS} order by 1").fetchall()]


def change(cfg: Config) -> None:
    """The second identity run (SECOND, and a new email of Jose's), listing the customers it touched as identity
    does: those whose records changed, and Jose."""
    with open_warehouse(cfg.warehouse_path) as con:
        con.execute(f"create table records_before as select * from {RECORD_CUSTOMER}")
    resolve(cfg, SECOND, "r2")
    with open_warehouse(cfg.warehouse_path) as con:
        con.execute(f"update {GOLDEN} set email = 'jose@new.example' where customer_id = ?", [JOSE])
        ensure_tables(con, DIRTY_CUSTOMERS)
        con.execute(f"""insert into {DIRTY_CUSTOMERS}
            with b as (select customer_id, list(record_id order by record_id) r from records_before group by 1),
                 a as (select customer_id, list(record_id order by record_id) r from {RECORD_CUSTOMER} group by 1)
            select customer_id from b full join a using (customer_id) where b.r is distinct from a.r
            union select '{JOSE}'""")


def content(url: str, sealer: Sealer | None) -> dict[str, list[tuple[Any, ...]]]:
    """Every published table's rows in order, sealed texts opened."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: sorted((_opened(t.name, r._mapping, sealer) for r in conn.execute(sa.select(t))),
                                   key=repr) for t in PUBLISHED}
    finally:
        engine.dispose()


def _opened(table: str, row: Any, sealer: Sealer | None) -> tuple[Any, ...]:
    if sealer is None or table not in SEALED:
        return tuple(row.values())
    key, sealed = SEALED[table]
    place = [row[k] for k in key]
    return tuple(sealer.open(v, place_of(table, c, *place)) if c in sealed and v is not None else v
                 for c, v in row.items())


def events(url: str, version: int) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            c = changes.c
            return [tuple(r) for r in conn.execute(sa.select(c.type, c.customer_id, c.detail, c.attributes)
                                                   .where(c.version == version).order_by(c.event_id))]
    finally:
        engine.dispose()


def test_a_partial_publish_serves_what_a_full_one_does(tmp_path: Path, stores: tuple[str, str],
                                                       sealing: Sealing | None) -> None:
    partial, full = stores
    cfg = ingest(tmp_path, partial)
    resolve(cfg, PEOPLE)
    assert run(cfg, full, sealing).mode == "full"
    assert run(cfg, partial, sealing).mode == "full"  # no dirty_customers: nothing is known
    change(cfg)
    marked = dirty(cfg)
    assert BOB in marked and JOSE in marked and len(marked) == 5  # Bob's new twin, Margaret, Peggy
    stats = run(cfg, partial, sealing)
    assert (stats.mode, stats.customers, stats.version) == ("partial", 5, 2)
    assert dirty(cfg) == []
    assert run(cfg, full, sealing, full=True).mode == "full"
    opener = sealing.sealer if sealing else None
    assert content(partial, opener) == content(full, opener)
    feed = events(partial, 2)
    assert feed == events(full, 2)
    assert {e[0] for e in feed} >= {"customer.created", "customer.merged", "customer.split"}
    assert ("customer.updated", JOSE) in {e[:2] for e in feed} or sealing is not None


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two sources ingested and resolved into PEOPLE."""
    folder = tmp_path_factory.mktemp("resolved")
    resolve(ingest(folder, "sqlite:///unused.db"), PEOPLE)
    return folder


@pytest.fixture
def published(resolved: Path, tmp_path: Path, store_url: str) -> Config:
    """A copy of `resolved` published once into `store_url`, then changed, its touched customers listed (no test
    here ingests it again)."""
    cfg = copy_ingested(resolved, tmp_path, store_url)
    run(cfg, store_url)
    change(cfg)
    return cfg


def test_full_when_asked_or_told_everything_changed_or_no_list(published: Config) -> None:
    url = published.serving
    assert run(published, url, full=True).full_because == "the run asked for a full publish"
    mark(published, JOSE, DIRTY_ALL)
    assert run(published, url).full_because == "identity redid every customer"
    with open_warehouse(published.warehouse_path) as con:
        con.execute(f"drop table {DIRTY_CUSTOMERS}")
    assert run(published, url).full_because.startswith("nothing is known")
    mark(published, JOSE)
    assert run(published, url).mode == "partial"


def test_full_when_many_changed(published: Config) -> None:
    mark(published, *(f"C{n:09d}" for n in range(100, 1200)))
    assert "customers changed" in run(published, published.serving).full_because


def test_full_when_the_store_moved_on(published: Config, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    shutil.copy(published.warehouse_path, other)
    with open_warehouse(other) as con:  # another warehouse publishes into the same store
        publish(con, published.serving, "elsewhere")
    stats = run(published, published.serving)
    assert (stats.mode, stats.full_because) == ("full", "the store's live version 2 is not the one this "
                                                        "warehouse last published")


def test_full_when_the_encryption_changes(published: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_KEY, KEY)
    stats = run(published, published.serving, Sealing.of(Sealer.from_env(), PII))
    assert stats.full_because == "the encryption changed (data key or api.pii)"


def test_a_failed_partial_publish_keeps_the_old_version_and_the_dirty_list(published: Config) -> None:
    url = published.serving
    before, marked = content(url, None), dirty(published)

    def fail(conn: sa.Connection) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        run(published, url, before_commit=fail)
    assert content(url, None) == before
    assert dirty(published) == marked
    assert run(published, url).mode == "partial"  # the store did not move on: the next run is partial again


def test_the_asset_reports_the_mode(published: Config) -> None:
    resources = {"warehouse": WarehouseResource(path=str(published.warehouse_path)),
                 "serving": ServingResource(url=published.serving)}
    result = dg.materialize([published_asset(published)], resources=resources)
    metadata = result.asset_materializations_for_node("published")[0].metadata
    assert (metadata["mode"].value, metadata["customers_replaced"].value) == ("partial", 5)
    result = dg.materialize([published_asset(published)], resources=resources, tags={FULL_RUN_TAG: "true"})
    metadata = result.asset_materializations_for_node("published")[0].metadata
    assert (metadata["mode"].value, metadata["full_because"].value) == ("full", "the run asked for a full publish")


KEYED = {"profiles": "customer_id", "match_records": "record_id"}
"""Tables whose deleted rows `log_deletes` notes, by their key column."""


def log_deletes(url: str) -> None:
    """A trigger on each table of KEYED noting the key of every row deleted from it in table deleted_rows."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("create table deleted_rows (name text, id text)")
            for name, key in KEYED.items():
                note = f"insert into deleted_rows values ('{name}', old.{key})"
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql(f"create trigger log_{name} after delete on {name} begin {note}; end")
                else:
                    conn.exec_driver_sql(f"create function log_{name}() returns trigger language plpgsql as "
                                         f"$$ begin {note}; return old; end $$")
                    conn.exec_driver_sql(f"create trigger log_{name} after delete on {name} for each row "
                                         f"execute function log_{name}()")
    finally:
        engine.dispose()


def keyed_rows(url: str) -> set[tuple[str, str, tuple[Any, ...]]]:
    """(table, key, row) of every row of the tables of KEYED."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {(name, row._mapping[key], tuple(row)) for name, key in KEYED.items()
                    for row in conn.execute(sa.select(sa.table(name, *map(sa.column, _columns(name)))))}
    finally:
        engine.dispose()


def _columns(name: str) -> list[str]:
    return [c.name for t in PUBLISHED if t.name == name for c in t.columns]


def test_a_partial_publish_rewrites_only_the_rows_that_changed(published: Config) -> None:
    """A dirty customer's rows the same in the new version are left in place (Jose's record, whose values hold
    NULLs, while his golden email changed); the others are deleted and inserted anew."""
    url = published.serving
    log_deletes(url)
    before = keyed_rows(url)
    assert run(published, url).mode == "partial"
    changed = {(name, key) for name, key, _ in before - keyed_rows(url)}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            deleted = {(r.name, r.id) for r in conn.execute(sa.text("select name, id from deleted_rows"))}
    finally:
        engine.dispose()
    assert deleted == changed
    assert ("profiles", JOSE) in deleted and ("match_records", "sales:c4") not in deleted
