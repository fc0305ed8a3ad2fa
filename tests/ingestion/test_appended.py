"""Files that only grew at their end, or gained files, load only what was appended and end as a full load ends."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from cdp.config import Config, CsvLocation, JsonlLocation, ParquetLocation, load_config
from ingestion.connectors import connector_for
from ingestion.connectors.files import FileConnector
from ingestion.load import APPENDED, DIFF, FULL, LoadStats, load_source
from ingestion.state import FILE_RECORDS, ROWS
from tests.ingestion.test_incremental import FIELDS, ingest, initial_people, orders, person, snapshot, write_files
from tests.ingestion.test_suppress import KEY, suppress
from tests.utils.sources import two_sources, write_parquet

SOURCES: dict[str, Any] = {
    "sales": {"connector": "csv", "path": "people.csv", "key": "id", "fields": FIELDS,
              "interactions": [{"name": "orders", "connector": "csv", "path": "orders.csv", "key": "order_id",
                                "record_key": "customer", "at": "at", "amount": "total"}]},
    "service": {"connector": "jsonl", "path": "people.jsonl", "key": "id", "fields": FIELDS},
    "drops": {"connector": "csv", "path": "drops/*.csv", "key": "id", "fields": FIELDS},
    "daily": {"connector": "parquet", "path": "daily/*.parquet", "key": "id", "fields": FIELDS},
}


def write_people(path: Path, people: list[dict[str, Any]], mode: str = "w") -> None:
    with path.open(mode, newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(people[0]))
        if mode == "w":
            writer.writeheader()
        writer.writerows(people)


def people_parquet(path: Path, people: list[dict[str, Any]]) -> None:
    write_parquet(path, list(people[0]), [list(p.values()) for p in people])


def append_lines(path: Path, *lines: str) -> None:
    with path.open("a", newline="") as file:
        file.write("".join(lines))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_files(tmp_path, initial_people())
    for sub in ("drops", "daily"):
        (tmp_path / sub).mkdir()
    write_people(tmp_path / "drops" / "day1.csv", [person(i) for i in range(1, 6)])
    write_people(tmp_path / "drops" / "day2.csv", [person(i) for i in (6, 7, 3)])
    people_parquet(tmp_path / "daily" / "day1.parquet", [person(i) for i in range(1, 6)])
    return tmp_path


def config(folder: Path, *names: str) -> Config:
    (folder / "cdp.yaml").write_text(yaml.safe_dump({"warehouse": "wh.duckdb",
                                                     "sources": {n: SOURCES[n] for n in names}}))
    return load_config(folder / "cdp.yaml")


def kept_state(warehouse: Path) -> list[tuple]:
    """The ingest state a load leaves that does not depend on the files' history: rows and records per file."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return sorted(con.execute("select feed, what, value from ingest_state where what in (?, ?)",
                                  [ROWS, FILE_RECORDS]).fetchall())


def assert_as_full(cfg: Config, folder: Path, loaded: dict[str, LoadStats], name: str) -> dict[str, LoadStats]:
    """The incremental warehouse a.duckdb holds what a full load of the same files (into `name`) holds; the
    appended loads' counts add up to the full load's."""
    full = ingest(cfg, folder / name, full=True)
    assert snapshot(folder / "a.duckdb") == snapshot(folder / name)
    assert kept_state(folder / "a.duckdb") == kept_state(folder / name)
    for feed, stats in loaded.items():
        if stats.mode == APPENDED:
            assert (stats.rows_changed, stats.rows_vanished, stats.rows_new) == (0, 0, stats.rows_published)
            assert stats.rows_unchanged + stats.rows_published == full[feed].rows_published
    return full


def test_lines_appended_to_csv_and_jsonl_are_read_alone_and_load_as_in_full(folder: Path) -> None:
    cfg = config(folder, "sales", "service")
    assert {s.mode for s in ingest(cfg, folder / "a.duckdb", full=False).values()} == {FULL}
    write_people(folder / "people.csv", [person(21), {**person(3), "first": "Again"}, person(22),
                                      {**person(22), "first": "Twice"}], mode="a")
    append_lines(folder / "people.csv", "23,too,many,fields,x,y,z,w\r\n")
    write_people(folder / "orders.csv", orders([person(21), person(3)])[:-1], mode="a")
    short = {k: v for k, v in person(24).items() if k != "phone"}  # no line of the tail has a phone
    append_lines(folder / "people.jsonl", json.dumps(short) + "\n", "[1, 2]\n",
                 json.dumps({**short, "id": "5"}) + "\n", json.dumps({**short, "id": "24"}) + "\n",
                 json.dumps({**short, "id": " "}) + "\n")

    loaded = ingest(cfg, folder / "a.duckdb", full=False)
    assert {f: s.mode for f, s in loaded.items()} == {"sales": APPENDED, "sales__orders": APPENDED,
                                                      "service": APPENDED}
    assert (loaded["sales"].rows_in, loaded["sales"].rows_published, loaded["sales"].rows_unchanged) == (5, 2, 20)
    assert (loaded["service"].rows_in, loaded["service"].rows_published) == (5, 1)
    full = assert_as_full(cfg, folder, loaded, "b.duckdb")
    assert full["service"].rows_quarantined == 3 + 4  # the first load's 3 and the tail's 4

    with duckdb.connect(str(folder / "a.duckdb"), read_only=True) as con:
        reasons = con.execute("select source, row_number, reason from quarantine where source <> 'sales__orders' "
                              "and row_number > 22 order by all").fetchall()
    assert reasons == [
        ("sales", 24, "duplicate key: row 3 has the same id and is kept"),
        ("sales", 26, "duplicate key: row 25 has the same id and is kept"),
        ("sales", 27, "unreadable record: Expected Number of Columns: 7 Found: 8"),
        ("service", 23, "unreadable record: not a JSON object"),  # the first load's last line
        ("service", 25, "unreadable record: not a JSON object"),
        ("service", 26, "duplicate key: row 5 has the same id and is kept"),
        ("service", 27, "duplicate key: row 24 has the same id and is kept"),
        ("service", 28, "blank key (column id)")]

    append_lines(folder / "people.jsonl", json.dumps(person(25)) + "\n")  # a second append numbers on
    again = ingest(cfg, folder / "a.duckdb", full=False)
    assert (again["service"].mode, again["service"].rows_in, again["sales"].mode) == (APPENDED, 1, "skipped")
    assert_as_full(cfg, folder, again, "c.duckdb")


def test_new_files_of_a_glob_are_read_whole_and_alone(folder: Path) -> None:
    cfg = config(folder, "drops", "daily")
    ingest(cfg, folder / "a.duckdb", full=False)
    write_people(folder / "drops" / "day3.csv", [person(8), {**person(2), "first": "Again"}, person(8, 1)])
    people_parquet(folder / "daily" / "day2.parquet",  # without a phone column: NULL, as in a full load
                  [{k: v for k, v in person(i).items() if k != "phone"} for i in (6, 4)])

    loaded = ingest(cfg, folder / "a.duckdb", full=False)
    assert {f: (s.mode, s.rows_in, s.rows_published) for f, s in loaded.items()} == {
        "drops": (APPENDED, 3, 1), "daily": (APPENDED, 2, 1)}
    assert_as_full(cfg, folder, loaded, "b.duckdb")


def test_lines_with_a_column_the_table_lacks_load_in_full(folder: Path) -> None:
    cfg = config(folder, "service")
    ingest(cfg, folder / "a.duckdb", full=False)
    append_lines(folder / "people.jsonl", json.dumps({**person(30), "nickname": "Al"}) + "\n")
    assert ingest(cfg, folder / "a.duckdb", full=False)["service"].mode == FULL
    assert_as_full(cfg, folder, {}, "b.duckdb")


def rewrite_start(folder: Path) -> None:
    text = (folder / "people.jsonl").read_text()
    (folder / "people.jsonl").write_text(text.replace("Ann2", "Anne2", 1) + json.dumps(person(30)) + "\n")


def extend_last_line(folder: Path) -> None:
    path = folder / "people.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n") + b"}\n" + json.dumps(person(30)).encode() + b"\n")


def after_a_blank_line(folder: Path) -> None:
    append_lines(folder / "people.jsonl", json.dumps(person(30)) + "\n")


def grow_middle_file(folder: Path) -> None:
    write_people(folder / "drops" / "day1.csv", [person(30)], mode="a")


def forget_records(folder: Path) -> None:
    with duckdb.connect(str(folder / "a.duckdb")) as con:
        con.execute("delete from ingest_state where feed = ? and what = ?", ["service", FILE_RECORDS])
    append_lines(folder / "people.jsonl", json.dumps(person(30)) + "\n")


@pytest.mark.parametrize("change", [rewrite_start, extend_last_line, after_a_blank_line, grow_middle_file,
                                    forget_records])
def test_changes_that_are_not_only_appends_are_diffed(folder: Path, change: Any) -> None:
    if change is extend_last_line:  # a file whose last line has no newline yet
        (folder / "people.jsonl").write_bytes((folder / "people.jsonl").read_bytes().rstrip(b"\n"))
    if change is after_a_blank_line:  # blank lines count as lines, not as records
        append_lines(folder / "people.jsonl", "\n")
    cfg = config(folder, "service", "drops")
    ingest(cfg, folder / "a.duckdb", full=False)
    change(folder)
    loaded = ingest(cfg, folder / "a.duckdb", full=False)
    assert DIFF in {s.mode for s in loaded.values()} <= {DIFF, "skipped"}
    assert_as_full(cfg, folder, loaded, "b.duckdb")
    append_lines(folder / "people.jsonl", json.dumps(person(31)) + "\n")  # the diff kept what the next needs
    assert ingest(cfg, folder / "a.duckdb", full=False)["service"].mode == APPENDED
    assert_as_full(cfg, folder, {}, "c.duckdb")


@pytest.mark.parametrize(("location", "name", "readable"), [
    (CsvLocation(connector="csv", path="x"), "a.csv", True),
    (CsvLocation(connector="csv", path="x", encoding="latin-1"), "a.csv", True),
    (CsvLocation(connector="csv", path="x", encoding="utf-16"), "a.csv", False),
    (CsvLocation(connector="csv", path="x"), "a.csv.gz", False),
    (JsonlLocation(connector="jsonl", path="x"), "a.jsonl.zst", False),
    (JsonlLocation(connector="jsonl", path="x"), "a.jsonl", True),
    (ParquetLocation(connector="parquet", path="x"), "a.parquet", False),
])
def test_only_plain_text_lines_are_read_from_where_they_were_left(location: Any, name: str, readable: bool) -> None:
    connector = connector_for(location)
    assert isinstance(connector, FileConnector) and connector.tail_readable(name) is readable


def test_a_key_whose_first_row_was_erased_is_a_duplicate_in_the_appended_lines_too(tmp_path: Path) -> None:
    cfg = two_sources(tmp_path)
    sales = cfg.sources["sales"]

    def load(warehouse: str, full: bool) -> dict[str, LoadStats]:
        with duckdb.connect(str(tmp_path / warehouse)) as con:
            if full:
                suppress(con, KEY, ("sales", "c1"))
            return {s.source: s for s in load_source(con, "sales", sales, KEY, full)}

    load("a.duckdb", True)  # t1 (c1's) erased
    append_lines(tmp_path / "tickets.jsonl", json.dumps({"ticket": "t1", "requester": "c2", "opened": "2024"}) + "\n",
                 json.dumps({"ticket": "t5", "requester": "c1", "opened": "2024"}) + "\n",
                 json.dumps({"ticket": "t6", "requester": "c2", "opened": "2024"}) + "\n")
    loaded = load("a.duckdb", False)
    assert (loaded["sales__tickets"].mode, loaded["sales__tickets"].rows_published) == (APPENDED, 1)
    load("b.duckdb", True)
    assert snapshot(tmp_path / "a.duckdb") == snapshot(tmp_path / "b.duckdb")
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        assert con.execute("select source_id, row_number, reason from quarantine where row_number > 4 "
                           "and source = 'sales__tickets' order by row_number").fetchall() == [
            ("t1", 5, "duplicate key: row 1 has the same ticket and is kept"), ("t5", 6, "erased")]


def test_appended_csv_lines_are_read_with_the_quoting_guessed_from_the_whole_file(folder: Path) -> None:
    cfg = config(folder, "sales")
    write_people(folder / "people.csv", [{**person(1), "last": "Smith, Jr."}, person(2)])  # quoted with "
    ingest(cfg, folder / "a.duckdb", full=False)
    append_lines(folder / "people.csv", "3,It's,Ann,a@x.com,1,1980-01-01,3\r\n",
                 "4,'Quoted, alone',Bo,b@x.com,1,1980-01-01,4\r\n")  # alone, these look quoted with '
    assert ingest(cfg, folder / "a.duckdb", full=False)["sales"].mode == APPENDED
    full = assert_as_full(cfg, folder, {}, "b.duckdb")
    assert (full["sales"].rows_published, full["sales"].rows_quarantined) == (3, 1)


def test_a_bad_line_among_the_lines_read_before_does_not_stop_the_appended_read(folder: Path) -> None:
    cfg = config(folder, "sales")
    people = [person(i) for i in range(1, 60)]
    write_people(folder / "people.csv", people[:30])
    append_lines(folder / "people.csv", "C9,Too,Many,t@x.com,555-867-5309,1980-01-01,1,x,y\r\n")
    write_people(folder / "people.csv", people[30:50], mode="a")
    ingest(cfg, folder / "a.duckdb", full=False)
    write_people(folder / "people.csv", people[50:], mode="a")
    assert ingest(cfg, folder / "a.duckdb", full=False)["sales"].mode == APPENDED
    full = assert_as_full(cfg, folder, {}, "b.duckdb")
    assert (full["sales"].rows_published, full["sales"].rows_quarantined) == (59, 1)
