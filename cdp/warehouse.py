"""The embedded DuckDB warehouse: one file holding raw, staged and identity tables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb


def connect(path: str | Path, read_only: bool = False,
            options: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file, creating its folder on first use; `options` are DuckDB settings
    (memory_limit, temp_directory: `Config.warehouse_options`)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path), read_only=read_only, config=dict(options or {}))


@contextmanager
def open_warehouse(path: str | Path, read_only: bool = False,
                   options: Mapping[str, str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connection that is closed on exit, so the file is free for the next process."""
    con = connect(path, read_only=read_only, options=options)
    try:
        yield con
    finally:
        con.close()


LOCKED = ("could not set lock", "conflicting lock")
"""Words of DuckDB's error when another process holds the file open (a run, `cdp dagster`, an erasure)."""


def is_locked(exc: BaseException) -> bool:
    """Whether a DuckDB error says another process holds the warehouse file."""
    return isinstance(exc, duckdb.IOException | duckdb.ConnectionException) and any(
        words in str(exc).lower() for words in LOCKED)


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "select 1 from information_schema.tables where table_name = ? and table_schema = 'main'", [name]
    ).fetchall()
    return bool(rows)
