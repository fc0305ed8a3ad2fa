"""Any database SQLAlchemy reaches: a table or a query, fetched in batches through a server-side cursor.

Each batch of `batch_size` rows becomes an Arrow table that DuckDB appends, so a large table
never sits whole in Python memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from cdp.config import SqlLocation
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
        engine = self._engine()
        try:
            with engine.connect() as conn:
                options = conn.execution_options(stream_results=True, yield_per=self.location.batch_size)
                result = options.execute(self._select())
                names = list(result.keys())
                cols = "".join(f", {ident(n)} VARCHAR" for n in names)
                con.execute(f"create temp table {ident(table)} ({LANDING_DDL}{cols})")
                done, mark = 0, names.index(self.watermark) if self.watermark in names else None
                for rows in result.partitions():
                    done += _append(con, table, len(names), rows, done)
                    if mark is not None:
                        self.high_water = max((v for v in (self.high_water, *(r[mark] for r in rows))
                                               if v is not None), default=None)
        finally:
            engine.dispose()


def _append(con: duckdb.DuckDBPyConnection, table: str, width: int, rows: Sequence[Sequence[Any]], done: int) -> int:
    """Append one batch through Arrow, numbering its rows after the `done` before it; return its size."""
    columns = list(zip(*rows, strict=True))
    batch = pa.table({"n": pa.array(range(done + 1, done + len(rows) + 1), pa.int64())}
                     | {f"c{i}": _arrow(values) for i, values in enumerate(columns)})
    casts = "".join(f", c{i}::VARCHAR" for i in range(width))
    con.register(BATCH, batch)
    try:
        con.execute(f"insert into {ident(table)} select n, NULL, NULL{casts} from {BATCH}")
    finally:
        con.unregister(BATCH)
    return len(rows)


def _arrow(values: Sequence[Any]) -> pa.Array:
    """An Arrow column of the driver's values; as text when they do not share one type (SQLite can mix).

    Text columns are declared text (Arrow's type inference is many times slower on strings).
    Decimals become text here: DuckDB 2.0 prints a DECIMAL whose precision equals its scale
    without the leading zero ('.10'), and Arrow infers exactly that type for Decimal('0.10').
    """
    sample = next((v for v in values if v is not None), None)
    try:
        array = pa.array(values, pa.string()) if isinstance(sample, str) else pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
    return array.cast(pa.string()) if pa.types.is_decimal(array.type) else array
