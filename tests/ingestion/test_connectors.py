"""Each connector kind lands every record, as text, in source order, with unreadable ones set aside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from cdp.config import CsvLocation, JsonlLocation, ParquetLocation, SqlLocation
from ingestion.connectors import CsvConnector, JsonlConnector, ParquetConnector, SqlConnector, connector_for
from ingestion.connectors import sql as sql_connector
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


def test_sql_appends_batch_by_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = write_sqlite(tmp_path / "f.db", "accounts", "id integer", [(i,) for i in range(1, 8)])
    sizes: list[int] = []
    real_append = sql_connector._append

    def recording_append(con: Any, table: str, width: int, rows: Any, done: int) -> int:
        sizes.append(len(rows))
        return real_append(con, table, width, rows, done)

    monkeypatch.setattr(sql_connector, "_append", recording_append)
    rows = landed(SqlLocation(connector="sql", url=f"sqlite:///{db}", table="accounts", batch_size=3))
    assert sizes == [3, 3, 1]
    assert rows == [(i, None, None, str(i)) for i in range(1, 8)]


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
