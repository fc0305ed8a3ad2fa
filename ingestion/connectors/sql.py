"""Any database SQLAlchemy reaches: a table or a query, fetched in batches through a server-side cursor.

Each batch of `batch_size` rows becomes an Arrow record batch of a stream that DuckDB appends, so a
large table never sits whole in Python memory. SQLite and PostgreSQL are read through ADBC when its
driver is installed (`ingestion.connectors.adbc`: Arrow batches straight from the driver, the same
text landed); any other database, a URL with options ADBC cannot take, or a source ADBC fails to
open or describe, row by row through SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from cdp.config import SqlLocation
from ingestion.connectors.adbc import Batch, Mixed, Reader, Unsupported, reader_for, to_arrow
from ingestion.connectors.base import Connector
from ingestion.duck import ident

BATCH = "_cdp_batch"
LANDING_DDL = "_row_number BIGINT, _error VARCHAR, _line VARCHAR"
# The watermark marks the ADBC path writes into its SQL: those whose SQLAlchemy literal compares as the bound
# value does (bytes, for one, would become text, which SQLite orders before every blob)
LITERAL_MARKS = (int, float, str, decimal.Decimal, dt.date, dt.datetime)


class SqlConnector(Connector):
    """Reads `table:` or `query:` from `url:`; after `past(column, mark)`, only the rows with column > mark."""

    location: SqlLocation
    location_class = SqlLocation
    watermark: str | None = None
    since: Any = None
    high_water: Any = None
    """After landing: the watermark column's highest value among the rows read (None when none had one)."""
    adbc: bool = True
    """Read SQLite and PostgreSQL through ADBC when its driver is installed (False: always SQLAlchemy)."""
    read_by: str | None = None
    """After landing: "adbc" or "sqlalchemy", whichever read the rows."""

    def past(self, column: str, mark: Any) -> None:
        """Track `column`'s highest value while landing; with a `mark` (not None), land only the rows past it."""
        self.watermark, self.since = column, mark

    @property
    def label(self) -> str:
        return f"table {self.location.table}" if self.location.table else "query"

    def _select(self) -> sa.Select[Any] | sa.TextClause:
        if self.location.query is not None:
            query = sa.text(self.location.query)
            if self.watermark is None or self.since is None:
                return query
            return self._past(sa.select(sa.text("*")).select_from(query.columns().subquery("cdp_q")))
        schema, _, name = (self.location.table or "").rpartition(".")
        return self._past(sa.select(sa.text("*")).select_from(sa.table(name, schema=schema or None)))

    def _past(self, select: sa.Select[Any]) -> sa.Select[Any]:
        if self.watermark is None or self.since is None:
            return select
        return select.where(sa.column(self.watermark) > sa.bindparam("cdp_mark", self.since))

    def _source(self) -> sa.Subquery:
        select = self._select()
        return select.columns().subquery("cdp_q") if isinstance(select, sa.TextClause) else select.subquery("cdp_q")

    def columns(self) -> list[str]:
        with self._connect() as conn:
            return list(conn.execute(sa.select(sa.text("*")).select_from(self._source()).where(sa.false())).keys())

    def highest(self, column: str) -> Any:
        """The column's highest value in the table or query (None when it holds none): one aggregate query."""
        with self._connect() as conn:
            return conn.execute(sa.select(sa.func.max(sa.column(column))).select_from(self._source())).scalar()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        """A connection to the source whose engine is disposed afterwards: no pooled connection stays open on the
        file, where ADBC's SQLite, another copy of SQLite in this process, would drop a WAL source's -wal and -shm
        under it when it closes (sqlite.org/howtocorrupt.html, 2.2.1)."""
        engine = sa.create_engine(self.location.url)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()

    def _land(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        reader = reader_for(self.location.url) if self.adbc else None
        if reader is not None:
            try:
                self._land_arrow(con, table, reader)
                self.read_by = "adbc"
                return
            except Unsupported:
                con.execute(f"drop table if exists {ident(table)}")
        self._land_rows(con, table)
        self.read_by = "sqlalchemy"

    def _land_arrow(self, con: duckdb.DuckDBPyConnection, table: str, reader: Reader) -> None:
        """Land through ADBC; a SQLite column found mixed is read again from the start, tagged."""
        before = self.high_water
        if self.since is not None and type(self.since) not in LITERAL_MARKS:
            raise Unsupported(f"a {type(self.since).__name__} mark is not written into SQL as a literal here")
        try:
            sql = reader.sql(self._select())
            names = reader.names(sql)
        except Exception as error:  # e.g. an authentication the bundled libpq lacks: SQLAlchemy reads it, or says why
            raise Unsupported(f"ADBC cannot open or describe the source: {error}") from error
        mark = names.index(self.watermark) if self.watermark in names else None
        while True:
            _create(con, table, names)
            try:
                _insert(con, table, self._tracked(reader.batches(sql, names, self.location.batch_size), mark))
                return
            except Mixed as mixed:
                reader.mixed |= mixed.columns
                con.execute(f"drop table {ident(table)}")
                self.high_water = before

    def _tracked(self, batches: Iterator[Batch], mark: int | None) -> Iterator[list[pa.Array]]:
        for batch in batches:
            if mark is not None:
                self._raise_high_water(batch.highest(mark))
            yield batch.columns

    def _land_rows(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        with self._connect() as conn:
            options = conn.execution_options(stream_results=True, yield_per=self.location.batch_size)
            result = options.execute(self._select())
            names = list(result.keys())
            _create(con, table, names)
            _insert(con, table, self._columns(result, names.index(self.watermark) if self.watermark in names else None))

    def _columns(self, result: sa.CursorResult[Any], mark: int | None) -> Iterator[list[pa.Array]]:
        """Each batch of rows as Arrow columns (`batch_size` rows, also for a `query:`, whose text SQLAlchemy
        would otherwise fetch a row at a time from SQLite, and all at once from PostgreSQL)."""
        for rows in result.partitions(self.location.batch_size):
            if mark is not None:
                self._raise_high_water(max((r[mark] for r in rows if r[mark] is not None), default=None))
            yield [to_arrow(list(values)) for values in zip(*rows, strict=True)]

    def _raise_high_water(self, value: Any) -> None:
        self.high_water = max((v for v in (self.high_water, value) if v is not None), default=None)


def _create(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    cols = "".join(f", {ident(n)} VARCHAR" for n in names)
    con.execute(f"create temp table {ident(table)} ({LANDING_DDL}{cols})")


def _insert(con: duckdb.DuckDBPyConnection, table: str, batches: Iterator[list[pa.Array]]) -> None:
    """Append the batches' rows (each batch a list of columns), numbered from 1, streamed into DuckDB.

    One INSERT reads a stream of batches (a third of the CPU of an INSERT per batch); a stream has one
    schema, so a batch whose Arrow types differ (a SQLite column's text among integers) starts another.
    An error raised while reading the batches is raised here as it was, not as DuckDB's.
    """
    runs = _Runs(batches)
    for stream in runs.streams():
        casts = "".join(f", c{i}::VARCHAR" for i in range(len(stream.schema) - 1))
        con.register(BATCH, stream)
        try:
            con.execute(f"insert into {ident(table)} select n, NULL, NULL{casts} from {BATCH}")
        finally:
            con.unregister(BATCH)
        if runs.error is not None:
            raise runs.error


class _Runs:
    """Batches of columns as Arrow streams, one per run of batches of the same types; rows numbered from 1."""

    def __init__(self, batches: Iterator[list[pa.Array]]) -> None:
        self.batches = batches
        self.pending = next(batches, None)
        self.done = 0
        self.error: BaseException | None = None

    def streams(self) -> Iterator[pa.RecordBatchReader]:
        while self.pending is not None:
            schema = pa.schema([("n", pa.int64()), *((f"c{i}", c.type) for i, c in enumerate(self.pending))])
            yield pa.RecordBatchReader.from_batches(schema, self._run(schema))

    def _run(self, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        try:
            while self.pending is not None and all(c.type in (t, pa.null()) for c, t in
                                                   zip(self.pending, schema.types[1:], strict=True)):
                yield _numbered(self.pending, self.done, schema)
                self.done += len(self.pending[0])
                self.pending = next(self.batches, None)
        except Exception as error:  # ends this stream; `_insert` raises it once DuckDB has read the rest
            self.error, self.pending = error, None


def _numbered(columns: list[pa.Array], done: int, schema: pa.Schema) -> pa.RecordBatch:
    """One batch for the stream: its rows numbered after the `done` before it, NULL-only columns typed."""
    numbers = pa.array(range(done + 1, done + len(columns[0]) + 1), pa.int64())
    return pa.RecordBatch.from_arrays([numbers, *(c.cast(t) for c, t in zip(columns, schema.types[1:], strict=True))],
                                      schema=schema)
