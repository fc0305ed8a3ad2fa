"""Incremental loads and staging end where a full run on the same data ends (ingestion.load, ingestion.stage)."""

from __future__ import annotations

import csv
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
import yaml

from cdp.config import Config, load_config
from ingestion.load import DIFF, FULL, PAST, SKIPPED, LoadStats, load_source
from ingestion.stage import stage_source
from tests.utils.services import require_mariadb, require_postgres

COLUMNS = ["id", "first", "last", "email", "phone", "born", "updated"]
FIELDS = {"first_name": "first", "last_name": "last", "email": "email", "phone": "phone", "birth_date": "born"}
# Volatile bookkeeping: which batch wrote a row, and when, differs between any two runs.
VOLATILE = {"_batch", "_loaded_at", "batch_id", "loaded_at", "at"}


def person(i: int, version: int = 0) -> dict[str, Any]:
    return {"id": str(i), "first": f"Ann{i}" if not version else f"Anna{i}", "last": "Smith",
            "email": f"ann{i}@example.com" if i % 5 else "not-an-email", "phone": f"(415) 555-{1000 + i}",
            "born": f"1980-01-{1 + i % 28:02d}", "updated": 100 * version + i}


def initial_people() -> list[dict[str, Any]]:
    people = [person(i) for i in range(1, 21)]
    return [*people, {**person(3), "first": "Dup"}, {**person(30), "id": " "}]  # a duplicate key, a blank key


def changed_people() -> list[dict[str, Any]]:
    """Rows 4 and 9 deleted, 2 and 7 changed, 21-23 new; the duplicate and blank rows kept."""
    people = initial_people()
    kept = [p for p in people if p["id"] not in ("4", "9")]
    changed = [person(int(p["id"]), 1) if p["id"] in ("2", "7") else p for p in kept]
    return changed + [person(i, 2) for i in (21, 22, 23)]


def orders(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"order_id": f"o{p['id']}", "customer": p["id"], "at": "2024-03-0" + str(1 + int(p["id"]) % 9),
             "total": f"${p['updated']}.50"} for p in people if p["id"].strip()] + [
        {"order_id": "o-orphan", "customer": "999", "at": "not a time", "total": "n/a"}]


def write_files(folder: Path, people: list[dict[str, Any]]) -> None:
    for name, rows in (("people.csv", people), ("orders.csv", orders(people))):
        with (folder / name).open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    (folder / "people.jsonl").write_text("".join(json.dumps(p) + "\n" for p in people) + "{not json\n")


def write_table(url: str, table: str, people: list[dict[str, Any]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"drop table if exists {table}"))
        con.execute(sa.text(f"create table {table} (id varchar(10), first varchar(40), last varchar(40), "
                            "email varchar(60), phone varchar(30), born varchar(20), updated integer)"))
        con.execute(sa.text(f"insert into {table} values (:id, :first, :last, :email, :phone, :born, :updated)"),
                    people)
    engine.dispose()


def write_config(folder: Path, url: str, table: str, watermark: bool) -> Config:
    sql: dict[str, Any] = {"connector": "sql", "url": url, "table": table, "key": "id", "fields": FIELDS,
                           "updated_at": "born"}
    sources: dict[str, Any] = {"finance": sql | ({"watermark": "updated"} if watermark else {})}
    if not watermark:
        sources["sales"] = {"connector": "csv", "path": "people.csv", "key": "id", "fields": FIELDS,
                            "interactions": [{"name": "orders", "connector": "csv", "path": "orders.csv",
                                              "key": "order_id", "record_key": "customer", "at": "at",
                                              "amount": "total"}]}
        sources["service"] = {"connector": "jsonl", "path": "people.jsonl", "key": "id", "fields": FIELDS}
    (folder / "cdp.yaml").write_text(yaml.safe_dump({"warehouse": "wh.duckdb", "sources": sources}))
    return load_config(folder / "cdp.yaml")


def ingest(cfg: Config, warehouse: Path, full: bool) -> dict[str, LoadStats]:
    """Load and stage every source as the assets do; the load stats by feed."""
    stats = {}
    with duckdb.connect(str(warehouse)) as con:
        for name, src in cfg.sources.items():
            stats |= {s.source: s for s in load_source(con, name, src, None, full)}
            stage_source(con, name, src, full)
    return stats


def snapshot(warehouse: Path, also: frozenset[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every ingestion table's rows, sorted, without the columns that say which run wrote them."""
    tables = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        for table in names:
            if not table.startswith(("raw_", "staged_", "interactions_", "quarantine", "attribute_issues")):
                continue
            cols = [r[0] for r in con.execute(f'describe "{table}"').fetchall() if r[0] not in VOLATILE | also]
            quoted = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'select {quoted} from "{table}"').fetchall()
            tables[table] = sorted(rows, key=repr)
    return tables


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Config]]:
    write_files(tmp_path, initial_people())
    db = tmp_path / "finance.db"
    write_table(f"sqlite:///{db}", "people", initial_people())
    yield tmp_path, write_config(tmp_path, f"sqlite:///{db}", "people", watermark=False)


def test_incremental_run_after_new_changed_and_deleted_rows_equals_a_full_run(files: tuple[Path, Config],
                                                                               tmp_path: Path) -> None:
    folder, cfg = files
    first = ingest(cfg, folder / "a.duckdb", full=False)
    assert {s.mode for s in first.values()} == {FULL}  # nothing to compare with yet
    write_files(folder, changed_people())
    write_table(str(cfg.sources["finance"].location.url), "people", changed_people())  # type: ignore[attr-defined]
    second = ingest(cfg, folder / "a.duckdb", full=False)
    for feed in ("sales", "service", "finance"):
        assert (second[feed].mode, second[feed].rows_new, second[feed].rows_changed, second[feed].rows_vanished,
                second[feed].rows_unchanged) == (DIFF, 3, 2, 2, 16)
    ingest(cfg, folder / "b.duckdb", full=True)
    assert snapshot(folder / "a.duckdb") == snapshot(folder / "b.duckdb")


def test_unchanged_files_are_not_read_and_a_touched_one_is_not_reloaded(files: tuple[Path, Config]) -> None:
    folder, cfg = files
    ingest(cfg, folder / "a.duckdb", full=False)
    before = snapshot(folder / "a.duckdb", frozenset())
    os.utime(folder / "people.csv")  # touched, same contents
    again = ingest(cfg, folder / "a.duckdb", full=False)
    assert {f: s.mode for f, s in again.items()} == {"sales": SKIPPED, "sales__orders": SKIPPED,
                                                     "service": SKIPPED, "finance": DIFF}
    assert again["sales"].rows_unchanged == 20
    assert again["finance"].rows_unchanged == 20 and again["finance"].rows_changed == 0
    assert snapshot(folder / "a.duckdb") == before
    assert {s.mode for s in ingest(cfg, folder / "a.duckdb", full=True).values()} == {FULL}


def test_a_changed_setting_rebuilds_the_tables(files: tuple[Path, Config]) -> None:
    folder, cfg = files
    ingest(cfg, folder / "a.duckdb", full=False)
    sales = cfg.sources["sales"]
    changed = cfg.model_copy(update={"sources": {"sales": sales.model_copy(update={"country": "GB"})}})
    assert ingest(changed, folder / "a.duckdb", full=False)["sales"].mode == SKIPPED  # raw unchanged...
    ingest(changed, folder / "b.duckdb", full=True)
    a, b = snapshot(folder / "a.duckdb"), snapshot(folder / "b.duckdb")
    assert a["staged_sales"] == b["staged_sales"]  # ...but staging, which reads the country, redone


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'finance.db'}"


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A database URL of each kind and a fresh table name in it (dropped after)."""
    url: str = {"sqlite": lambda: sqlite_url(tmp_path), "postgresql": require_postgres,
                "mariadb": require_mariadb}[request.param]()
    table = f"incr_{uuid.uuid4().hex[:8]}"
    yield url, table
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"drop table if exists {table}"))
    engine.dispose()


def test_watermarked_sql_source_reads_only_rows_past_the_mark(server: tuple[str, str], tmp_path: Path) -> None:
    url, table = server
    write_table(url, table, initial_people())
    cfg = write_config(tmp_path, url, table, watermark=True)
    assert ingest(cfg, tmp_path / "a.duckdb", full=False)["finance"].mode == FULL
    people = changed_people()  # rows 2 and 7 changed (updated past the mark), 21-23 new; 4 and 9 deleted
    write_table(url, table, people)
    stats = ingest(cfg, tmp_path / "a.duckdb", full=False)["finance"]
    assert (stats.mode, stats.rows_in, stats.rows_new, stats.rows_changed, stats.rows_vanished) == (PAST, 5, 3, 2, 0)
    write_table(url, table, [*people, person(4), person(9)])  # what the incremental run still holds
    ingest(cfg, tmp_path / "b.duckdb", full=True)
    renumbered = frozenset({"_row_number", "row_number"})  # a row read past the mark is numbered after the others
    assert snapshot(tmp_path / "a.duckdb", renumbered) == snapshot(tmp_path / "b.duckdb", renumbered)
    write_table(url, table, people)
    assert ingest(cfg, tmp_path / "a.duckdb", full=False)["finance"].rows_in == 0  # deletions unseen...
    full = ingest(cfg, tmp_path / "a.duckdb", full=True)["finance"]
    assert (full.mode, full.rows_vanished) == (FULL, 2)  # ...until a full run
    ingest(cfg, tmp_path / "c.duckdb", full=True)
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "c.duckdb")


def test_watermark_only_for_sql_and_its_column_must_exist(tmp_path: Path) -> None:
    from cdp.config import ConfigError
    from ingestion import check_columns

    write_files(tmp_path, initial_people())
    (tmp_path / "cdp.yaml").write_text(yaml.safe_dump({"sources": {"sales": {
        "connector": "csv", "path": "people.csv", "key": "id", "fields": FIELDS, "watermark": "updated"}}}))
    with pytest.raises(ConfigError, match=r"sources\.sales\.watermark: only a sql source"):
        load_config(tmp_path / "cdp.yaml")
    write_table(sqlite_url(tmp_path), "people", initial_people())
    cfg = write_config(tmp_path, sqlite_url(tmp_path), "people", watermark=True)
    src = cfg.sources["finance"].model_copy(update={"watermark": "changed_at"})
    with pytest.raises(ConfigError, match=r"sources\.finance\.watermark: column 'changed_at' not found"):
        check_columns(cfg.model_copy(update={"sources": {"finance": src}}))



def test_events_of_a_deleted_record_are_flagged_though_their_file_is_unchanged(files: tuple[Path, Config]) -> None:
    folder, cfg = files
    ingest(cfg, folder / "a.duckdb", full=False)
    with (folder / "people.csv").open("w", newline="") as file:  # record 5 gone, its order still there
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(p for p in initial_people() if p["id"] != "5")
    stats = ingest(cfg, folder / "a.duckdb", full=False)
    assert (stats["sales"].rows_vanished, stats["sales__orders"].mode) == (1, SKIPPED)
    ingest(cfg, folder / "b.duckdb", full=True)
    a, b = snapshot(folder / "a.duckdb"), snapshot(folder / "b.duckdb")
    assert a == b
    assert ("sales__orders", "o5", "record_key", "5", "no record with this key in sales") in a["attribute_issues"]
