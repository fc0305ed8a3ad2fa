"""Writing the silos as their systems would: a SQLite database, CSV exports, JSON Lines.

Every writer streams in chunks, so a million people never sit in one CSV string or one
executemany list. A silo's unreadable line (flaws.py) goes in at its place among the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow as pa
from pyarrow import csv

from cdp.demo.activity import Events
from cdp.demo.flaws import Silo

CHUNK = 100_000


def _chunks(rows: pd.DataFrame) -> Iterator[pd.DataFrame]:
    for start in range(0, len(rows), CHUNK):
        yield rows.iloc[start:start + CHUNK]


def _pieces(silo: Silo) -> Iterator[pd.DataFrame | str]:
    """The silo's rows in chunks, with its unreadable line (if any) at its place."""
    rows = silo.rows
    cut = silo.broken_after if silo.broken_line is not None else len(rows)
    yield from _chunks(rows.iloc[:cut])
    if silo.broken_line is not None:
        yield silo.broken_line
    yield from _chunks(rows.iloc[cut:])


def write_sqlite(path: Path, tables: dict[str, tuple[pd.DataFrame, dict[str, str]]]) -> None:
    """A fresh database with these tables (name -> rows, column -> SQL type), filled in chunks."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        for name, (rows, types) in tables.items():
            ddl = ", ".join(f'"{c}" {types.get(c, "TEXT")}' for c in rows.columns)
            con.execute(f'create table "{name}" ({ddl})')
            marks = ", ".join("?" for _ in rows.columns)
            for part in _chunks(rows):  # as Python objects a chunk at a time: the whole table would double its size
                records = part.astype(object).where(part.notna(), None).itertuples(index=False, name=None)
                con.executemany(f'insert into "{name}" values ({marks})', records)
    con.close()


def write_csv(path: Path, silo: Silo | Events) -> None:
    """A CSV export with a header line, text quoted (and the silo's line with surplus fields, if any)."""
    pieces = _pieces(silo) if isinstance(silo, Silo) else _chunks(silo.rows)
    with path.open("wb") as f:
        _csv(f, silo.rows.iloc[:0], header=True)
        for piece in pieces:
            if isinstance(piece, str):
                f.write(piece.encode() + b"\n")
            else:
                _csv(f, piece, header=False)


def _csv(f: BinaryIO, rows: pd.DataFrame, header: bool) -> None:
    """Rows as CSV through Arrow's writer (many times faster than pandas' on text columns)."""
    table = pa.Table.from_pandas(rows, preserve_index=False)
    csv.write_csv(table, f, csv.WriteOptions(include_header=header))


def write_jsonl(path: Path, silo: Silo) -> None:
    """One JSON object per line (blank values as null), and the silo's line that is not JSON, if any."""
    with path.open("w") as f:
        for piece in _pieces(silo):
            if isinstance(piece, str):
                f.write(piece + "\n")
            elif len(piece):
                f.write(piece.to_json(orient="records", lines=True))  # ends with a newline
