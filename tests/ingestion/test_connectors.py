"""Each connector kind lands every record, as text, in source order, with unreadable ones set aside."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from cdp.config import CsvLocation, JsonlLocation, ParquetLocation, SqlLocation
from ingestion.connectors import CsvConnector, JsonlConnector, ParquetConnector, SqlConnector, connector_for
from ingestion.connectors import sql as sql_connector
from ingestion.connectors.adbc import reader_for as adbc_reader_for
from ingestion.connectors.files import EmptyFile
from tests.utils.services import require_mariadb, require_postgres
from tests.utils.sources import write_csv, write_jsonl, write_parquet, write_sqlite

TABLE = "ingest_test_accounts"


def landed(location: Any) -> list[tuple]:
    con = duckdb.connect()
    connector_for(location).land(con, "landing")
    return con.execute("select * from landing order by _row_number").fetchall()


def test_connector_is_picked_by_config_class(tmp_path: Path) -> None:
    path = str(write_csv(tmp_path / "a.csv", ["id"], [["1"]]))
    assert isinstance(connector_for(CsvLocation(connector="csv", path=path)), CsvConnector)
    assert isinstance(connector_for(JsonlLocation(connector="jsonl", path=path)), JsonlConnector)
    assert isinstance(connector_for(ParquetLocation(connector="parquet", path=path)), ParquetConnector)
    assert isinstance(connector_for(SqlLocation(connector="sql", url="sqlite://", table="t")), SqlConnector)


def test_csv_sets_aside_rows_with_too_many_or_too_few_fields(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text('id,name,email\n1,Ann,a@x.com\n2,Bob,b@x.com,EXTRA\n3,"Multi\nline",c@x.com\n4,Dan\n5,Eve,007\n')
    loc = CsvLocation(connector="csv", path=str(path))
    assert connector_for(loc).columns() == ["id", "name", "email"]
    assert landed(loc) == [
        (1, None, None, "1", "Ann", "a@x.com"),
        (2, "unreadable record: Expected Number of Columns: 3 Found: 4", "2,Bob,b@x.com,EXTRA", None, None, None),
        (3, None, None, "3", "Multi\nline", "c@x.com"),
        (4, "unreadable record: Expected Number of Columns: 3 Found: 2", "4,Dan", None, None, None),
        (5, None, None, "5", "Eve", "007"),  # text stays text: no leading zero lost
    ]


def test_csv_glob_reads_files_in_name_order_and_numbers_across_them(tmp_path: Path) -> None:
    write_csv(tmp_path / "part_2.csv", ["id", "name"], [["3", "Cy"]])
    write_csv(tmp_path / "part_1.csv", ["id", "name", "extra"], [["1", "Ann", "x"], ["2", "Bob", "y"]])
    rows = landed(CsvLocation(connector="csv", path=str(tmp_path / "part_*.csv"), delimiter=","))
    assert [(r[0], *r[3:]) for r in rows] == [(1, "1", "Ann", "x"), (2, "2", "Bob", "y"), (3, "3", "Cy", None)]


def test_an_empty_file_in_a_glob_is_named_when_landing(tmp_path: Path) -> None:
    """The check before the run names it too (tests/ingestion/test_columns.py); a file emptied since then is
    named when the load reaches it, not read as a column called column0."""
    write_csv(tmp_path / "a.csv", ["id"], [["1"]])
    (tmp_path / "b.csv").write_text("")
    with pytest.raises(EmptyFile, match=f"^file is empty: {tmp_path / 'b.csv'}$"):
        landed(CsvLocation(connector="csv", path=str(tmp_path / "*.csv")))


def test_a_header_only_csv_is_not_empty_it_has_no_records(tmp_path: Path) -> None:
    location = CsvLocation(connector="csv", path=str(write_csv(tmp_path / "a.csv", ["id", "email"], [])))
    assert connector_for(location).columns() == ["id", "email"] and landed(location) == []


def test_csv_honours_delimiter_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id;name\n1;Zoë\n".encode("latin-1"))
    rows = landed(CsvLocation(connector="csv", path=str(path), delimiter=";", encoding="latin-1"))
    assert rows == [(1, None, None, "1", "Zoë")]


def test_parquet_casts_every_column_to_text(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "p.parquet", ["id", "amount", "born"], [[1, 2.5, None], [2, 10.0, "1980-01-02"]])
    loc = ParquetLocation(connector="parquet", path=str(path))
    assert connector_for(loc).columns() == ["id", "amount", "born"]
    assert landed(loc) == [(1, None, None, "1", "2.5", None), (2, None, None, "2", "10.0", "1980-01-02")]


def test_jsonl_keeps_bad_lines_for_quarantine_and_numbers_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [
        {"id": "1", "name": 'A, "quoted"', "n": 5}, "", {"id": "2", "extra": {"a": [1, 2]}, "name": None},
        "not json", "[1, 2]", {"id": "3"},
    ])
    loc = JsonlLocation(connector="jsonl", path=str(path))
    assert connector_for(loc).columns() == ["id", "name", "n", "extra"]
    assert landed(loc) == [
        (1, None, None, "1", 'A, "quoted"', "5", None),
        (3, None, None, "2", None, None, '{"a":[1,2]}'),
        (4, "unreadable record: not a JSON object", "not json", None, None, None, None),
        (5, "unreadable record: not a JSON object", "[1, 2]", None, None, None, None),
        (6, None, None, "3", None, None, None),
    ]


def test_sql_reads_a_table_or_a_query_from_sqlite(tmp_path: Path) -> None:
    db = write_sqlite(tmp_path / "f.db", "accounts", "id integer, name text, mixed",
                      [(1, "Ann", 5), (2, "Bob", "five"), (3, None, 2.5)])
    table = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="accounts")
    assert connector_for(table).columns() == ["id", "name", "mixed"]
    assert landed(table) == [(1, None, None, "1", "Ann", "5"), (2, None, None, "2", "Bob", "five"),
                             (3, None, None, "3", None, "2.5")]
    query = SqlLocation(connector="sql", url=f"sqlite:///{db}", query="select id as k from accounts where id > 1")
    assert connector_for(query).columns() == ["k"]
    assert landed(query) == [(1, None, None, "2"), (2, None, None, "3")]


def open_files(path: Path) -> list[str]:
    """This process's open file descriptors on `path` or its -wal and -shm files."""
    targets = (str(path), f"{path}-wal", f"{path}-shm")
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            if str(fd.readlink()) in targets:
                found.append(str(fd))
        except FileNotFoundError:  # the listing's own descriptor, closed by now
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list the process's open files")
def test_sql_source_columns_leave_no_connection_open(tmp_path: Path) -> None:
    """Asking a SQLite source for its columns (mapping checks do, before the read) leaves no file of it open: ADBC's
    SQLite, another copy of SQLite in the process, would drop a WAL source's -wal and -shm under that connection."""
    db = tmp_path / "f.db"
    with contextlib.closing(sqlite3.connect(db)) as con:  # sqlite3's own `with` commits and leaves it open
        con.executescript("pragma journal_mode=wal; create table accounts (id integer, name text); "
                          "insert into accounts values (1, 'Ann');")
    assert open_files(db) == []
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="accounts")
    assert connector_for(location).columns() == ["id", "name"]
    assert open_files(db) == []


@pytest.mark.parametrize("adbc", [True, False], ids=["adbc", "sqlalchemy"])
def test_sql_appends_batch_by_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, adbc: bool) -> None:
    db = write_sqlite(tmp_path / "f.db", "accounts", "id integer", [(i,) for i in range(1, 8)])
    sizes: list[int] = []
    real_numbered = sql_connector._numbered

    def recording_numbered(columns: list[Any], done: int, schema: Any) -> Any:
        sizes.append(len(columns[0]))
        return real_numbered(columns, done, schema)

    monkeypatch.setattr(sql_connector, "_numbered", recording_numbered)
    connector = connector_for(SqlLocation(connector="sql", url=f"sqlite:///{db}", table="accounts", batch_size=3))
    assert isinstance(connector, SqlConnector)
    connector.adbc = adbc
    con = duckdb.connect()
    connector.land(con, "landing")
    assert connector.read_by == ("adbc" if adbc else "sqlalchemy")
    assert sizes == [3, 3, 1]
    assert con.execute("select * from landing order by _row_number").fetchall() == [(i, None, None, str(i))
                                                                                    for i in range(1, 8)]


def both_paths(location: SqlLocation, watermark: str | None = None, mark: Any = None) -> list[tuple[Any, ...]]:
    """Land `location` through ADBC and through SQLAlchemy: per path, who read it, the rows and the high water."""
    results = []
    for adbc in (True, False):
        connector = connector_for(location)
        assert isinstance(connector, SqlConnector)
        connector.adbc = adbc
        if watermark:
            connector.past(watermark, mark)
        con = duckdb.connect()
        connector.land(con, "landing")
        rows = con.execute("select * from landing order by _row_number").fetchall()
        results.append((connector.read_by, rows, connector.high_water))
    return results


AWKWARD_SQLITE = [  # id, amount (a decimal column: SQLite keeps REAL), ratio, born, seen, active, photo, note
    (1, 12.50, 0.1, "1980-01-02", "2020-01-02 03:04:05.123456", 1, b"\x00\xff\x01", "José"),
    (2, None, None, None, None, None, None, None),
    (3, 0.10, 1e20, "1999-12-31", "1999-12-31 23:59:59", 0, b"plain", ""),
    (4, -0.0, 1 / 3, "2000-02-29", "2000-02-29 00:00:00", 1, b"", "tab\tand\nnewline"),
    (5, 123456789012.34, -2.5e-10, "1900-01-01", "2030-06-15 12:00:00", 0, b"a'b", "O'Brien"),
    (6, 7, 9007199254740993, "0001-01-01", "1970-01-01 00:00:00", 1, b"\x80", "\u4e2d\u6587"),
]


@pytest.mark.parametrize("batch_size", [2, 50_000])
def test_sql_adbc_lands_what_sqlalchemy_lands_from_sqlite(tmp_path: Path, batch_size: int) -> None:
    db = write_sqlite(tmp_path / "f.db", "t", "id integer, amount decimal(14,2), ratio real, born date, "
                      "seen timestamp, active boolean, photo blob, note text", AWKWARD_SQLITE)
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="t", batch_size=batch_size)
    fast, rows = both_paths(location, "seen")
    assert fast[0] == "adbc" and rows[0] == "sqlalchemy"
    assert fast[1:] == rows[1:]
    assert fast[2] == "2030-06-15 12:00:00"
    assert [r[3:] for r in fast[1][:2]] == [
        ("1", "12.5", "0.1", "1980-01-02", "2020-01-02 03:04:05.123456", "1", "\\x00\\xFF\\x01", "José"),
        ("2", None, None, None, None, None, None, None)]
    past = both_paths(location, "seen", "2000-01-01 00:00:00")
    assert past[0][1:] == past[1][1:]
    assert [r[3] for r in past[0][1]] == ["1", "4", "5"]
    by_id = both_paths(location, "id", 4)
    assert by_id[0][1:] == by_id[1][1:] and by_id[0][2] == 6


MIXED = [  # storage classes mixed within a batch and across batches; first batches of NULLs only (b, e)
    (1, 5, None, "x", 1.0, None),
    (2, "five", None, b"\xff\x00", 2, None),
    (3, 2.5, None, "y", 3.5, None),
    (4, 7, 1, b"ok", None, "only text"),
    (5, 8, 2.5, "z", 4, None),
    (6, b"bytes", "text", None, 9007199254740993, "more"),
    (7, 9, 3, "w", 5, "text"),
]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 50_000])
def test_sql_adbc_lands_sqlite_columns_of_mixed_types_as_sqlalchemy_does(tmp_path: Path, batch_size: int) -> None:
    db = write_sqlite(tmp_path / "m.db", "m", "id integer, a, b, c, d, \"e's col\"", MIXED)
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="m", batch_size=batch_size)
    fast, rows = both_paths(location, "id")
    assert fast[0] == "adbc"
    assert fast[1:] == rows[1:]
    query = location.model_copy(update={"table": None, "query": "select d, a, id from m order by id desc"})
    fast, rows = both_paths(query)
    assert fast[0] == "adbc" and fast[1:] == rows[1:]
    assert [r[4] for r in fast[1]][-3:] == ["2.5", "five", "5"]
    fast, rows = both_paths(query, "id", 2)
    assert fast[0] == "adbc" and fast[1:] == rows[1:]
    assert [r[5] for r in fast[1]] == ["7", "6", "5", "4", "3"] and fast[2] == 7


def test_sql_adbc_is_not_used_where_it_cannot_read_the_url(tmp_path: Path) -> None:
    db = write_sqlite(tmp_path / "f.db", "t", "id integer", [(1,)])
    assert adbc_reader_for(f"sqlite:///{db}") is not None
    assert adbc_reader_for(f"sqlite:///{db}?timeout=5") is None  # a pysqlite option
    assert adbc_reader_for("sqlite://") is None
    assert adbc_reader_for("mysql+pymysql://root@127.0.0.1:3306/test") is None
    assert adbc_reader_for("postgresql+psycopg://u@h/db?sslmode=disable") is not None
    assert adbc_reader_for("postgresql+psycopg://u@h/db?prepare_threshold=0") is None  # a psycopg option
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}?timeout=5", table="t")
    assert both_paths(location)[0][:2] == ("sqlalchemy", [(1, None, None, "1")])


def test_sql_a_mark_adbc_would_not_compare_alike_is_read_through_sqlalchemy(tmp_path: Path) -> None:
    db = write_sqlite(tmp_path / "b.db", "t", "k blob", [(b"a",), (b"b",), (b"c",)])
    fast, rows = both_paths(SqlLocation(connector="sql", url=f"sqlite:///{db}", table="t"), "k", b"a")
    assert fast[0] == "sqlalchemy" and fast[1:] == rows[1:]
    assert [r[3] for r in fast[1]] == ["b", "c"]


def test_sql_without_the_adbc_driver_reads_through_sqlalchemy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = write_sqlite(tmp_path / "f.db", "t", "id integer", [(1,)])
    monkeypatch.setitem(sys.modules, "adbc_driver_sqlite.dbapi", None)  # as if not installed: import fails
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="t")
    assert adbc_reader_for(location.url) is None
    assert both_paths(location)[0][:2] == ("sqlalchemy", [(1, None, None, "1")])


def test_sql_empty_table_lands_its_columns(tmp_path: Path) -> None:
    db = tmp_path / "e.db"
    with sa.create_engine(f"sqlite:///{db}").begin() as source:
        source.execute(sa.text("create table t (id integer, name text)"))
    con = duckdb.connect()
    location = SqlLocation(connector="sql", url=f"sqlite:///{db}", table="t")
    assert connector_for(location).land(con, "l") == ["id", "name"]
    assert con.execute("select count(*) from l").fetchall() == [(0,)]


def server_table(url: str) -> SqlLocation:
    """(Re)create ingest_test_accounts on a server with typed columns, including NULLs and a decimal."""
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"drop table if exists {TABLE}"))
        con.execute(sa.text(f"create table {TABLE} (account_no integer, name varchar(40), balance decimal(10,2), "
                            "born date)"))
        con.execute(sa.text(f"insert into {TABLE} values (1, 'Ann', 12.50, '1980-01-02'), (2, NULL, NULL, NULL), "
                            "(3, 'Cy', 0.10, '1999-12-31')"))
    engine.dispose()
    return SqlLocation(connector="sql", url=url, table=TABLE, batch_size=2)


@pytest.mark.parametrize("require", [require_postgres, require_mariadb], ids=["postgresql", "mariadb"])
def test_sql_reads_real_servers_in_batches(require: Any) -> None:
    loc = server_table(require())
    assert connector_for(loc).columns() == ["account_no", "name", "balance", "born"]
    rows = sorted(landed(loc), key=lambda r: r[3])
    assert [r[3:] for r in rows] == [("1", "Ann", "12.50", "1980-01-02"), ("2", None, None, None),
                                     ("3", "Cy", "0.10", "1999-12-31")]
    assert sorted(r[0] for r in rows) == [1, 2, 3]
    query = loc.model_copy(update={"table": None, "query": f"select name from {TABLE} where account_no = 3"})
    assert [r[3:] for r in landed(query)] == [("Cy",)]


POSTGRES_TYPES = ("id integer, small smallint, big bigint, amount numeric(10,2), loose numeric, ratio real, "
                  "wide double precision, name text, code varchar(5), fixed char(4), active boolean, photo bytea, "
                  "born date, seen timestamp, stamped timestamptz, at time, rate numeric(6,4), tiny numeric(20,8)")
POSTGRES_ROWS = [
    "(1, 2, 9007199254740993, 12.50, 1.5, 0.1, 0.1, 'José', 'ab', 'c', true, '\\x0001ff', '1980-01-02', "
    "'2020-01-02 03:04:05.5', '2020-01-02 03:04:05+02', '03:04:05', 0.0001, 0.00000001)",
    "(2, NULL, NULL, NULL, 2.25, NULL, 1e20, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'NaN', NULL)",
    "(3, -32768, -1, 0.10, 0.0000001, -2.5e-10, 1e-300, '', 'x''y', 'long', false, '', '0001-01-01', "
    "'1999-12-31 23:59:59.999999', '1970-01-01 00:00:00+00', '23:59:59.999999', NULL, 0)",
    "(4, 0, 0, -0.01, 'NaN', 3.4e38, -0.0, 'tab\tnl', 'z', '', true, 'ok', '2000-02-29', '2030-06-15 12:00:00', "
    "'2030-06-15 12:00:00-07', '00:00:00', 0, -123456789012.5)",
    "(5, 7, 7, 99999999.99, 123456789012345678901234567890.123456789, 'Infinity', 'NaN', 'a', 'b', 'c', NULL, NULL, "
    "'2024-01-01', '2024-01-01 00:00:00', NULL, NULL, 12.3456, 0.1)",
]


def postgres_table(url: str, name: str, types: str, rows: list[str], batch_size: int) -> SqlLocation:
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"drop table if exists {name}"))
        con.execute(sa.text(f"create table {name} ({types})"))
        con.execute(sa.text(f"insert into {name} values {', '.join(rows)}"))
    engine.dispose()
    return SqlLocation(connector="sql", url=url, table=name, batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [2, 50_000])
def test_sql_adbc_lands_what_sqlalchemy_lands_from_postgresql(batch_size: int) -> None:
    location = postgres_table(require_postgres(), "ingest_test_awkward", POSTGRES_TYPES, POSTGRES_ROWS, batch_size)
    for watermark, mark in [("seen", None), ("seen", dt.datetime(2000, 1, 1)), ("stamped", None),
                            ("amount", decimal.Decimal("0.10")), ("born", dt.date(1999, 1, 1)), ("ratio", 0.5),
                            ("name", "O'Brien \\ 100%"), ("tiny", decimal.Decimal("-1"))]:
        fast, rows = both_paths(location, watermark, mark)
        assert fast[0] == "adbc" and rows[0] == "sqlalchemy"
        assert fast[1:] == rows[1:], watermark
        assert fast[2] is not None
    assert [r[3] for r in fast[1]] == ["1", "3", "5"] and fast[2] == decimal.Decimal("0.1")  # tiny past -1
    assert both_paths(location)[0][1][0][3:10] == ("1", "2", "9007199254740993", "12.50",
                                                   "1.5" if batch_size > 2 else "1.50", "0.1", "0.1")  # NaN: str()
    query = location.model_copy(update={"table": None, "query": "select id, name, loose from ingest_test_awkward "
                                        "where name like 'J%' or loose < 1 order by id desc"})
    fast, rows = both_paths(query, "id", 0)
    assert fast[0] == "adbc" and fast[1:] == rows[1:]
    # NUMERIC as the row path lands it: a batch's Decimals share the largest scale ('1.5000000' beside 1E-7)
    assert [r[3:] for r in fast[1]] == [("3", "", "1E-7"), ("1", "José", "1.5000000")]
    assert fast[2] == 3


def test_sql_adbc_leaves_postgresql_types_it_does_not_map_to_sqlalchemy() -> None:
    location = postgres_table(require_postgres(), "ingest_test_json", "id integer, doc jsonb, tags text[]",
                              ["(1, '{\"a\": [1, 2]}', '{x,y}')", "(2, NULL, NULL)"], 50_000)
    fast, rows = both_paths(location)
    assert fast[0] == "sqlalchemy" and fast[1:] == rows[1:]
