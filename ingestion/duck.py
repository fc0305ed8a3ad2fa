"""Small DuckDB helpers shared by the ingestion modules."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb


def ident(name: str) -> str:
    """Quote a column or table name for DuckDB SQL."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """Quote a string as a SQL literal (for values that cannot be bound as parameters, e.g. in DDL)."""
    return "'" + value.replace("'", "''") + "'"


def columns_of(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a table or view, in order."""
    return [row[0] for row in con.execute(f"describe {ident(table)}").fetchall()]


def count(con: duckdb.DuckDBPyConnection, sql: str, params: Iterable[object] = ()) -> int:
    """The single integer a `select count(*) ...` answers."""
    return int(con.execute(sql, list(params)).fetchall()[0][0])


def drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Drop scratch tables if they exist."""
    for table in tables:
        con.execute(f"drop table if exists {ident(table)}")
