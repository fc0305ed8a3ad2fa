"""SQLite and PostgreSQL read as Arrow record batches through ADBC, landing the text SQLAlchemy's rows would.

`SqlConnector` asks `reader_for(url)` first and keeps SQLAlchemy when it answers None (another
database, URL options ADBC cannot take, or the driver not installed). A reader streams the query's
result in batches of exactly `batch_size` rows, so whatever depends on a batch (the row-by-row path
infers one Arrow type per batch) lands the same; each batch's columns become the Arrow arrays
SQLAlchemy's values would have become, and DuckDB casts them to VARCHAR alike.

Where ADBC's types differ from the row path's, values are rebuilt as the row path has them: a
PostgreSQL NUMERIC (ADBC hands its text, the row path a Decimal) goes through Decimal and the row
path's own `to_arrow`; a float4 through its shortest text, as psycopg parses it. ADBC's SQLite driver
infers a column's type from the first batch: there it turns integers among reals into reals and
numbers among text into text, later it fails on a value of another type, and a blob among text it
takes silently. So one aggregate query first counts each column's storage classes (about a fifth of
the read's CPU), and a column with more than one is read as tagged text: per batch, one class in
Arrow, several value by value through `to_arrow`. A column with one class whose first batch is all
NULL is inferred an integer; the driver then fails on its first value, and the read starts over
with that column tagged too. A PostgreSQL type not mapped here (JSON, UUID, arrays, intervals, ...)
raises `Unsupported` before any row is landed, and the caller falls back.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

SQLITE_BATCH_ROWS = "adbc.sqlite.query.batch_rows"
MISMATCH = re.compile(r"Type mismatch in column (\d+)")
# libpq's connection keywords: the only URL query options the PostgreSQL driver passes on
LIBPQ = frozenset({
    "application_name", "channel_binding", "client_encoding", "connect_timeout", "gssencmode", "host", "hostaddr",
    "keepalives", "keepalives_count", "keepalives_idle", "keepalives_interval", "options", "passfile", "port",
    "sslcert", "sslcrl", "sslkey", "sslmode", "sslrootcert", "target_session_attrs", "tcp_user_timeout",
})
SPECIAL_NUMERIC = pa.array(["nan", "inf", "-inf"])
# The Arrow types ADBC's PostgreSQL driver gives that land as the row path's values do (float4 widened)
PLAIN = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_string,
         pa.types.is_binary, pa.types.is_date32, pa.types.is_timestamp, pa.types.is_time64)


class Unsupported(Exception):
    """The source holds something this reader cannot land exactly as SQLAlchemy's rows would."""


class Mixed(Exception):
    """SQLite columns (by position) hold values of more than one storage class; read them again as tagged text."""

    def __init__(self, columns: set[int]) -> None:
        super().__init__(f"columns {sorted(columns)} mix storage classes")
        self.columns = columns


Values = Callable[[], list[Any]]
"""A column's values as the row path's driver gives them, where its Arrow array does not hold them."""


@dataclass
class Batch:
    """One batch as the row path would have built it: the columns as Arrow arrays, and for the columns
    whose arrays are not the driver's values (SQLite's mixed, PostgreSQL's NUMERIC) how to get those."""

    columns: list[pa.Array]
    values: dict[int, Values] = field(default_factory=dict)

    def highest(self, index: int) -> Any:
        """The column's highest value in this batch, as the row path's driver gives it (None when all NULL)."""
        if index in self.values:
            return max((v for v in self.values[index]() if v is not None), default=None)
        return pc.max(self.columns[index]).as_py()


class Reader(ABC):
    """Runs SQL compiled from a SQLAlchemy statement and yields `Batch`es of the result, in order."""

    dialect: ClassVar[sa.Dialect]

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.mixed: set[int] = set()
        """SQLite columns found holding more than one storage class, read as tagged text."""

    def sql(self, statement: sa.Select[Any] | sa.TextClause) -> str:
        """The statement as this database's SQL, the watermark's mark written in as a literal."""
        return str(statement.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def names(self, sql: str) -> list[str]:
        """The result's column names, from the query run to no rows."""
        with self._connect() as conn, conn.cursor() as cursor:
            cursor.execute(f"select * from ({sql}) as cdp_names limit 0")
            return [d[0] for d in cursor.description or []]

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def batches(self, sql: str, names: list[str], size: int) -> Iterator[Batch]:
        """The result of `sql` (columns `names`) in batches of `size` rows."""


class SqliteReader(Reader):
    dialect = sqlite.dialect()

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.scanned = False
        """Whether the columns' storage classes were counted."""

    def _connect(self) -> Any:
        import adbc_driver_sqlite.dbapi

        return adbc_driver_sqlite.dbapi.connect(self.uri)

    def batches(self, sql: str, names: list[str], size: int) -> Iterator[Batch]:
        """Raises `Mixed` for the columns found mixed; the caller discards what it landed and asks again."""
        with self._connect() as conn, conn.cursor() as cursor:
            if not self.scanned:
                self.mixed |= self._mixed_columns(cursor, sql, names)
                self.scanned = True
            cursor.adbc_statement.set_options(**{SQLITE_BATCH_ROWS: str(size)})
            try:
                cursor.execute(self._wrapped(sql, names))
                reader = cursor.fetch_record_batch()
                for record in _rebatch(reader, size):
                    yield self._decode(record, len(names))
            except OSError as error:  # the driver's error on a value of another type than its column's
                found = MISMATCH.search(str(error))
                if found is None:
                    raise
                raise Mixed({self._source_column(int(found.group(1)), len(names))}) from error

    @staticmethod
    def _mixed_columns(cursor: Any, sql: str, names: list[str]) -> set[int]:
        """The columns holding values of more than one storage class: one aggregate query (a fifth of a read)."""
        counts = ", ".join(f"count(distinct nullif(typeof({_quote(n)}), 'null'))" for n in names)
        cursor.execute(f"select {counts} from ({sql})")
        row = cursor.fetchone() or ()
        return {i for i, classes in enumerate(row) if classes > 1}

    def _wrapped(self, sql: str, names: list[str]) -> str:
        """Each column as itself or, when mixed, as tagged text and a REAL."""
        exprs = []
        for i, name in enumerate(names):
            col = _quote(name)
            exprs += ([f"case typeof({col}) when 'null' then 'n' when 'integer' then 'i' || {col} "
                       f"when 'real' then 'r' when 'text' then 't' || {col} else 'b' || hex({col}) end",
                       f"case typeof({col}) when 'real' then {col} else 0.0 end"]  # 0.0: never NULL, so REAL
                      if i in self.mixed else [col])
        return f"select {', '.join(exprs)} from ({sql})"

    def _source_column(self, position: int, width: int) -> int:
        """The source column at `position` of the wrapped result (a mixed column takes two positions)."""
        at = 0
        for i in range(width):
            at += 2 if i in self.mixed else 1
            if position < at:
                return i
        raise AssertionError(f"no source column at result position {position}")

    def _decode(self, record: pa.RecordBatch, width: int) -> Batch:
        batch, at = Batch([]), 0
        for i in range(width):
            if i in self.mixed:
                array, values = _untagged(record.column(at), record.column(at + 1))
                batch.columns.append(array)
                if values is not None:
                    batch.values[i] = values
                at += 2
            else:
                batch.columns.append(record.column(at))
                at += 1
        return batch


class PostgresReader(Reader):
    dialect = postgresql.dialect(paramstyle="numeric_dollar")  # no '%' doubled, as pyformat would

    def _connect(self) -> Any:
        import adbc_driver_postgresql.dbapi

        return adbc_driver_postgresql.dbapi.connect(self.uri)

    def batches(self, sql: str, names: list[str], size: int) -> Iterator[Batch]:
        with self._connect() as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            reader = cursor.fetch_record_batch()
            decoders = [_postgres_decoder(f) for f in reader.schema]
            for record in _rebatch(reader, size):
                batch = Batch([])
                for i, decode in enumerate(decoders):
                    array, values = decode(record.column(i))
                    batch.columns.append(array)
                    if values is not None:
                        batch.values[i] = values
                yield batch


def reader_for(url: str) -> Reader | None:
    """An ADBC reader for a SQLite file or PostgreSQL URL whose driver is installed; None for anything else."""
    parsed = sa.make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    in_memory = parsed.database in (None, "", ":memory:")  # a new, empty database per connection
    if backend == "sqlite" and driver == "pysqlite" and not parsed.query and not in_memory:
        return SqliteReader(str(parsed.database)) if _installed("adbc_driver_sqlite.dbapi") else None
    if backend == "postgresql" and driver in {"psycopg", "psycopg2", "pg8000"} and set(parsed.query) <= LIBPQ:
        uri = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return PostgresReader(uri) if _installed("adbc_driver_postgresql.dbapi") else None
    return None


def to_arrow(values: list[Any]) -> pa.Array:
    """An Arrow column of a driver's values; as text when they do not share one type (SQLite can mix).

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


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _untagged(tags: pa.Array, reals: pa.Array) -> tuple[pa.Array, Values | None]:
    """A mixed column's batch back from tagged text: as Arrow, and as Python values where built from them.

    A batch holding one storage class (the usual case: a stray text key among integers sits in one
    batch) becomes that class's Arrow type in Arrow; only a batch mixing them goes value by value.
    """
    kinds = pc.utf8_slice_codeunits(tags, 0, 1)
    present = set(pc.unique(kinds).to_pylist()) - {"n"}
    if not present:
        return pa.nulls(len(tags)), None
    if len(present) == 1 and present != {"b"}:
        kind = present.pop()
        if kind == "r":
            return pc.if_else(pc.equal(kinds, "r"), reals, pa.scalar(None, pa.float64())), None
        text = pc.if_else(pc.equal(kinds, "n"), pa.scalar(None, pa.string()), pc.utf8_slice_codeunits(tags, 1))
        return (pc.cast(text, pa.int64()) if kind == "i" else text), None
    values = [_untag(tag, real) for tag, real in zip(tags.to_pylist(), reals.to_pylist(), strict=True)]
    return to_arrow(values), lambda: values


def _untag(tag: str, real: float) -> Any:
    """A SQLite value back from its tagged text (and its REAL, for a real)."""
    kind, text = tag[0], tag[1:]
    return {"n": lambda: None, "i": lambda: int(text), "r": lambda: real, "t": lambda: text,
            "b": lambda: bytes.fromhex(text)}[kind]()


def _postgres_decoder(column: pa.Field) -> Callable[[pa.Array], tuple[pa.Array, Values | None]]:
    """How one PostgreSQL column's arrays become the row path's; raises `Unsupported` for a type not mapped."""
    kind = column.type
    if isinstance(kind, pa.OpaqueType) and kind.type_name == "numeric":
        return _numeric_text if 0 <= _numeric_scale(column) <= 6 else _numeric
    if isinstance(kind, pa.ExtensionType) or not any(test(kind) for test in PLAIN):
        raise Unsupported(f"column {column.name!r}: PostgreSQL type {column.metadata} as {kind}")
    if pa.types.is_float32(kind):  # psycopg parses a float4's shortest text as a double: 0.1, not 0.10000000149...
        return lambda array: (array.cast(pa.string()).cast(pa.float64()), None)
    return lambda array: (array, None)


def _numeric_scale(column: pa.Field) -> int:
    """A NUMERIC(p, s) column's s from its type modifier ((p << 16 | s) + 4); -1 for a bare NUMERIC."""
    typmod = int((column.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    return (typmod - 4) & 0xFFFF if typmod >= 4 else -1


def _numeric_text(array: pa.Array) -> tuple[pa.Array, Values]:
    """NUMERIC(p, s) with s <= 6 as the driver writes it, which is the row path's text: every value has s
    decimals, so Arrow's Decimal type for a batch has scale s and prints the same digits (its scientific
    notation starts below 1E-6). The driver spells NaN and infinities its own way ('nan', 'inf'): a batch
    holding one goes through Decimal as the row path's does."""
    if pc.any(pc.is_in(array.storage, value_set=SPECIAL_NUMERIC)).as_py():
        return _numeric(array)
    return array.storage, lambda: _decimals(array)


def _numeric(array: pa.Array) -> tuple[pa.Array, Values]:
    """NUMERIC's text as the Decimals psycopg gives, then as the row path makes them Arrow."""
    values = _decimals(array)
    return to_arrow(values), lambda: values


def _decimals(array: pa.Array) -> list[Decimal | None]:
    return [None if v is None else Decimal(v) for v in array.storage.to_pylist()]


def _rebatch(reader: pa.RecordBatchReader, size: int) -> Iterator[pa.RecordBatch]:
    """The reader's rows in batches of exactly `size` (the last one shorter), as a server-side cursor hands them."""
    held = reader.schema.empty_table()
    for record in reader:
        if record.num_rows == size and not held.num_rows:  # SQLite's batches are already the size: no copy
            yield record
            continue
        held = pa.concat_tables([held, pa.Table.from_batches([record])])
        while held.num_rows >= size:
            yield held.slice(0, size).combine_chunks().to_batches()[0]
            held = held.slice(size)
    if held.num_rows:
        yield held.combine_chunks().to_batches()[0]
