"""The shared shape of file connectors: a DuckDB table function per file, in name order.

Each file is read into a scratch table (DuckDB keeps the file's order, so rowid is the position
among readable records). Readers that set records aside (DuckDB's `store_rejects`) leave them in
REJECTS with their record number; the placing query below slots those back between the readable
ones, so `_row_number` is the record's position in the file, offset by the files read before it.

A load can also read only what was appended (`land_tails`): a grown file's new lines, behind its header
lines in a scratch file, and new files whole, numbered after the records already loaded.

An empty file (no bytes, or only blank lines) is an error naming it: readers would otherwise
invent a column for it (`column0`) and the config's columns would seem missing.
"""

from __future__ import annotations

import codecs
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb

from cdp.config import FileLocation
from ingestion.connectors.base import LANDING_META, Connector
from ingestion.duck import columns_of, count, drop, ident

READ = "_cdp_read"
REJECTS = "_cdp_rejects"
SCANS = "_cdp_scans"
REJECT_OPTIONS = f"store_rejects=true, rejects_table='{REJECTS}', rejects_scan='{SCANS}'"
BLANK_SCAN = 65_536
"""Files up to this size are read whole to tell one holding only blank lines; larger ones hold more."""
COMPRESSED = (".gz", ".gzip", ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".zip", ".snappy")
LINE_ENCODINGS = {"utf-8", "iso8859-1", "ascii", "cp1252"}
"""Encodings (codecs' names) in which a newline is the byte 0x0a, so a file's lines can be cut at bytes."""

# {header}: lines before the first record; {offset}: records in earlier files.
PLACE = """
create temp table {out} as
with rejected as (
    -- DuckDB may report one surplus field after another: the last report has the true count
    select line - {header} as pos, any_value(csv_line) as text, arg_max(error_message, column_idx) as error
    from {rejects} group by line
), ranked as (  -- the m-th rejected record, at position pos, follows pos - m readable ones
    select pos - row_number() over (order by pos) as readable_before, row_number() over (order by pos) as m
    from rejected
), gaps as (select readable_before, max(m) as m from ranked group by readable_before)
select {offset} + r._cdp_k + coalesce(g.m, 0) as _row_number, {select}
from (select rowid + 1 as _cdp_k, * from {read}) r asof left join gaps g on r._cdp_k > g.readable_before
{where}
union all by name
select {offset} + pos as _row_number, 'unreadable record: ' || error as _error, text as _line from rejected
"""


class EmptyFile(ValueError):
    """A source file with nothing in it."""


class FileConnector(Connector):
    """Files read by a DuckDB table function; a glob reads every matching file, in name order."""

    location: FileLocation
    reader: ClassVar[str]
    """DuckDB table-function call, `?` standing for the path and then for `reader_params()`."""
    header_lines: ClassVar[int] = 0
    """Lines before the first record, for turning DuckDB's reject line numbers into positions."""
    rejects: ClassVar[bool] = False
    """Whether the reader sets unreadable records aside in REJECTS."""
    line_based: ClassVar[bool] = True
    """Whether records are lines, so the lines appended to a file can be read on their own."""
    landed: list[int]
    """Records (readable or not) each file or tail held, after `land` or `land_tails`."""

    @property
    def label(self) -> str:
        return os.path.basename(self.location.path)

    def reader_params(self) -> list[object]:
        """Values for the reader's `?` after the path."""
        return []

    def paths(self) -> list[str]:
        """The files `path:` matches, in name order; raises EmptyFile for the first empty one."""
        paths = sorted(glob.glob(self.location.path))
        for path in paths:
            size = os.path.getsize(path)
            if size == 0 or (size <= BLANK_SCAN and not Path(path).read_bytes().strip()):
                raise EmptyFile(f"file is empty: {path}")
        return paths

    def tail_readable(self, path: str) -> bool:
        """Whether the bytes appended to `path` can be read as records on their own: lines of plain text."""
        return self.line_based and not path.lower().endswith(COMPRESSED)

    def tail_reader(self, con: duckdb.DuckDBPyConnection, path: str) -> tuple[str, list[object]]:
        """The reader call and its values after the path for the lines appended to `path`: those of the whole file
        unless the reader guesses options from what it reads, which must then be guessed from the whole file."""
        return self.reader, self.reader_params()

    def land_tails(self, con: duckdb.DuckDBPyConnection, table: str, reads: list[tuple[str, int]],
                   offset: int) -> list[str]:
        """Land only `reads` ((path, first byte): from past 0, the file's header lines and then its bytes from
        there), numbering their records after `offset`; return the columns they hold."""
        self._land_reads(con, table, reads, offset)
        return [c for c in columns_of(con, table) if c not in LANDING_META]

    def columns(self) -> list[str]:
        names: dict[str, None] = {}  # ordered union over the files
        with duckdb.connect() as con:
            for path in self.paths():
                names.update(dict.fromkeys(self.file_columns(con, path)))
        return list(names)

    def file_columns(self, con: duckdb.DuckDBPyConnection, path: str) -> list[str]:
        """Column names of one file, as the reader sees them without reading the records."""
        rows = con.execute(f"describe select * from {self.reader}", [path, *self.reader_params()]).fetchall()
        return [row[0] for row in rows]

    def select_meta(self) -> str:
        """SQL for `_error, _line` of a record the reader did read."""
        return "NULL::VARCHAR as _error, NULL::VARCHAR as _line"

    def select_columns(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        """SQL for the source columns, as VARCHAR, over the scratch table `r`."""
        return [f"r.{ident(c)}::VARCHAR as {ident(c)}" for c in columns_of(con, READ)]

    def skip_blank(self) -> str:
        """A WHERE clause dropping read lines that are not records (none by default)."""
        return ""

    def _land(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self._land_reads(con, table, [(path, 0) for path in self.paths()], 0)

    def _land_reads(self, con: duckdb.DuckDBPyConnection, table: str, reads: list[tuple[str, int]],
                    offset: int) -> None:
        parts, self.landed = [], []
        for i, (path, start) in enumerate(reads):
            parts.append(f"{table}_{i}")
            self.landed.append(self._land_file(con, path, parts[-1], offset, start))
            offset += self.landed[-1]
        if len(parts) == 1:
            con.execute(f"alter table {ident(parts[0])} rename to {ident(table)}")
            return
        union = " union all by name ".join(f"select * from {ident(p)}" for p in parts)
        con.execute(f"create or replace temp table {ident(table)} as {union}")
        drop(con, *parts)

    def _land_file(self, con: duckdb.DuckDBPyConnection, path: str, out: str, offset: int, start: int = 0) -> int:
        """Land one file (from byte `start`, behind its header lines) in `out`; return how many records it held
        (readable or not)."""
        reader, params = self.tail_reader(con, path) if start else (self.reader, self.reader_params())
        drop(con, READ, REJECTS, SCANS, out)
        with _from_byte(path, start, self.header_lines) as readable:
            con.execute(f"create temp table {READ} as select * from {reader}", [readable, *params])
        if not self.rejects:
            con.execute(f"create temp table {REJECTS} (line UBIGINT, column_idx UBIGINT, csv_line VARCHAR, "
                        "error_message VARCHAR)")
        con.execute(PLACE.format(
            out=ident(out), header=self.header_lines, offset=offset, rejects=REJECTS, read=READ,
            select=", ".join([self.select_meta(), *self.select_columns(con)]), where=self.skip_blank(),
        ))
        drop(con, READ, REJECTS, SCANS)
        return count(con, f"select coalesce(max(_row_number), {offset}) - {offset} from {ident(out)}")


@contextmanager
def _from_byte(path: str, start: int, header_lines: int) -> Iterator[str]:
    """`path` itself, or from past byte 0 a scratch file of its first `header_lines` lines and its bytes from
    `start` (a reader cannot start inside a file)."""
    if not start:
        yield path
        return
    with tempfile.TemporaryDirectory() as folder, open(path, "rb") as source:
        tail = os.path.join(folder, os.path.basename(path))
        with open(tail, "wb") as target:
            for _ in range(header_lines):
                target.write(source.readline())
            source.seek(start)
            shutil.copyfileobj(source, target, 1 << 20)
        yield tail


def line_encoding(name: str) -> bool:
    """Whether a newline is the byte 0x0a in the encoding `name` (an unknown name: no)."""
    try:
        return codecs.lookup(name).name in LINE_ENCODINGS
    except LookupError:
        return False
