"""Any database SQLAlchemy reaches: a table or a query, fetched in batches through a server-side cursor.

Each batch of `batch_size` rows becomes an Arrow table that DuckDB appends, so a large table
never sits whole in Python memory. SQLite and PostgreSQL are read through ADBC when its driver is
installed (`ingestion.connectors.adbc`: Arrow batches straight from the driver, the same text landed);
any other database, or a URL with options ADBC cannot take, row by row through SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from cdp.config import SqlLocation
from ingestion.connectors.adbc import Mixed, Reader, Unsupported, reader_for, to_arrow
from ingestion.connectors.base import Connector
from ingestion.duck import ident

BATCH = "_cdp_batch"
LANDING_DDL = "_row_number BIGINT, _error VARCHAR, _line VARCHAR"


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
        with self._engine().connect() as conn:
            return list(conn.execute(sa.select(sa.text("*")).select_from(self._source()).where(sa.false())).keys())

    def highest(self, column: str) -> Any:
        """The column's highest value in the table or query (None when it holds none): one aggregate query."""
        engine = self._engine()
        try:
            with engine.connect() as conn:
                return conn.execute(sa.select(sa.func.max(sa.column(column))).select_from(self._source())).scalar()
        finally:
            engine.dispose()

    def _engine(self) -> sa.Engine:
        return sa.create_engine(self.location.url)

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
        sql, before = reader.sql(self._select()), self.high_water
        names = reader.names(sql)
        while True:
            _create(con, table, names)
            done, mark = 0, names.index(self.watermark) if self.watermark in names else None
            try:
                for batch in reader.batches(sql, names, self.location.batch_size):
                    done += _append(con, table, batch.columns, done)
                    if mark is not None:
                        self._raise_high_water(batch.highest(mark))
                return
            except Mixed as mixed:
                reader.mixed |= mixed.columns
                con.execute(f"drop table {ident(table)}")
                self.high_water = before

    def _land_rows(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        engine = self._engine()
        try:
            with engine.connect() as conn:
                options = conn.execution_options(stream_results=True, yield_per=self.location.batch_size)
                result = options.execute(self._select())
                names = list(result.keys())
                _create(con, table, names)
                done, mark = 0, names.index(self.watermark) if self.watermark in names else None
                for rows in result.partitions(self.location.batch_size):
                    done += _append(con, table, [to_arrow(list(values)) for values in zip(*rows, strict=True)], done)
                    if mark is not None:
                        self._raise_high_water(max((r[mark] for r in rows if r[mark] is not None), default=None))
        finally:
            engine.dispose()

    def _raise_high_water(self, value: Any) -> None:
        self.high_water = max((v for v in (self.high_water, value) if v is not None), default=None)


def _create(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> None:
    cols = "".join(f", {ident(n)} VARCHAR" for n in names)
    con.execute(f"create temp table {ident(table)} ({LANDING_DDL}{cols})")


def _append(con: duckdb.DuckDBPyConnection, table: str, columns: list[pa.Array], done: int) -> int:
    """Append one batch's columns, numbering its rows after the `done` before it; return its size."""
    size = len(columns[0])
    batch = pa.table({"n": pa.array(range(done + 1, done + size + 1), pa.int64())}
                     | {f"c{i}": values for i, values in enumerate(columns)})
    casts = "".join(f", c{i}::VARCHAR" for i in range(len(columns)))
    con.register(BATCH, batch)
    try:
        con.execute(f"insert into {ident(table)} select n, NULL, NULL{casts} from {BATCH}")
    finally:
        con.unregister(BATCH)
    return size
