"""Serving store backends: one small base, one short subclass per engine (SQLite, PostgreSQL).

A publish loads every table of a version into a shadow copy (`<table>__next`), each in its own
transaction, then swaps all shadows for the live tables and adds a publish_log row in one
transaction. Readers never see a shadow, so a failed or killed publish leaves the previous version
whole (at worst stale shadows, which the next publish drops first); both engines have
transactional DDL, so the swap is all or nothing. The engines differ in how rows go in
(SQLite: bound by ADBC into a file of their own, then copied in by one INSERT ... SELECT; PostgreSQL:
COPY), how many tables load at once, when secondary indexes are built and how CSV comes out.

A partial publish (serving.incremental) loads only some customers' rows into the shadows; its one
transaction then deletes those customers' live rows that changed and inserts the shadows' new ones in their
place, the review queue swapped whole as ever: readers still see one version or the next.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import queue
import shutil
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, final

import adbc_driver_sqlite.dbapi
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    Table,
    create_engine,
    delete,
    event,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.expression import Exists

from serving import tables
from serving.changes import FeedSql, record_changes
from serving.migrate import upgrade

SHADOW = "__next"
"""Suffix of the shadow copy a version is loaded into before the swap."""

FEED_TABLES = {tables.profiles.name, tables.source_records.name, tables.redirects.name}
"""A publish of these (every real one) records its changes for the feed."""

Batches = Iterable[pa.RecordBatch]
"""Rows of one table, in its column order."""

SWAPPED_WHOLE = {tables.review_candidates.name}
"""Published tables a partial publish still replaces whole: the review queue is keyed by record pairs, not by
customer, and small (pairs the model was unsure about)."""

partial_ids = Table("partial_ids", MetaData(), Column("customer_id", tables.Key, primary_key=True),
                    prefixes=["TEMPORARY"])
"""The customers a partial publish replaces, in its transaction (created and dropped there)."""


@dataclass(frozen=True)
class Partial:
    """A publish of some customers' rows only (serving.incremental decides when)."""

    customers: Sequence[str]
    live_version: int
    """The version the rows were built against: the live one when the warehouse last published."""


@dataclass(frozen=True)
class LiveVersion:
    """A published version as the store logged it: what tells it from any other (in this or another store)."""

    version: int
    published_at: str
    """ISO 8601, UTC."""
    key_id: str | None
    hashed_search: str | None
    schema: str
    """The store's Alembic revision."""
    customers: int


class StoreMovedOn(RuntimeError):
    """A partial publish found another live version than the one its rows were built against."""


def shadow_name(name: str) -> str:
    return name + SHADOW


def shadow_of(table: Table, rename_key: bool) -> Table:
    """The table's shadow copy: same columns and primary key (its name suffixed too if `rename_key`),
    no secondary indexes yet."""
    copy = table.to_metadata(MetaData(), name=shadow_name(table.name))
    for index in list(copy.indexes):
        copy.indexes.discard(index)
    if rename_key and copy.primary_key.name:
        copy.primary_key.name = shadow_name(str(copy.primary_key.name))
    return copy


class ServingStore(ABC):
    """A serving store at one SQLAlchemy URL; `ServingStore.open(url)` picks the engine's subclass."""

    engines: ClassVar[dict[str, type[ServingStore]]] = {}
    backend: ClassVar[str] = ""
    """SQLAlchemy backend name the subclass serves (the URL's scheme before any +driver)."""
    key_names_unique: ClassVar[bool] = False
    """Whether a primary key's name must be unique in the schema (so the shadow's gets a suffix)."""
    parallel_loads: ClassVar[int] = 1
    """Tables loaded at once, each on its own connection (a server engine parses rows in its own processes)."""
    read_ahead: ClassVar[bool] = True
    """Whether every table's batches are read ahead in a thread of their own from the start of a publish."""
    scrub: ClassVar[tuple[str, ...]] = ()
    """Run in the swap's transaction when an encrypted version replaces a plain one, so that the pages of the
    plain tables dropped do not keep their values in the store's files."""
    scrubbed: ClassVar[tuple[str, ...]] = ()
    """Run after that swap's commit, each on a connection of its own."""
    feed_sql: ClassVar[FeedSql]
    """How the engine's SQL reads JSON, for the change feed's diff (serving.changes)."""
    after_ids: ClassVar[tuple[str, ...]] = ()
    """Run once a partial publish has listed its customers (e.g. for the planner to know how few they are)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.backend:
            ServingStore.engines[cls.backend] = cls

    @classmethod
    def open(cls, url: str) -> ServingStore:
        backend = make_url(url).get_backend_name()
        if backend not in cls.engines:
            raise ValueError(f"serving: no store for {backend!r} URLs (known: {', '.join(sorted(cls.engines))})")
        return cls.engines[backend](url)

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = self._create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    # --- what each engine supplies -------------------------------------------------------------

    @abstractmethod
    def _create_engine(self, url: str) -> Engine:
        """The SQLAlchemy engine, set up so a `begin()` opens a transaction that also covers DDL."""

    @abstractmethod
    def _load(self, conn: Connection, shadow: Table, batches: Batches) -> int:
        """Bulk-load the rows into the (empty) shadow table; return how many went in."""

    @abstractmethod
    def _after_load(self, conn: Connection, table: Table, shadow: Table) -> None:
        """Called in the load's transaction once the shadow is filled (e.g. to index it)."""

    @abstractmethod
    def _after_swap(self, conn: Connection, table: Table) -> None:
        """Called once the shadow carries the live name: it must end with the live table's indexes."""

    @abstractmethod
    def _write_csv(self, conn: Connection, query: str, header: list[str], out: io.TextIOBase) -> int:
        """Write the query's rows as CSV after the header line; return the row count."""

    # --- the shared steps ----------------------------------------------------------------------

    @final
    def migrate(self) -> None:
        """Alembic `upgrade head`: create or bring the schema up to date."""
        with self.engine.begin() as conn:
            upgrade(conn)

    @final
    def publish(self, data: Mapping[Table, Batches], run_id: str | None = None,
                before_commit: Callable[[Connection], None] | None = None,
                sealed: Mapping[str, str] | None = None, partial: Partial | None = None,
                model: str | None = None) -> tuple[int, dict[str, int]]:
        """Replace every table in `data` by its rows, atomically; return the new version and row counts.

        `before_commit` runs in the swap's transaction once the new tables are live there (an erasure made
        while they loaded is applied to them: serving.erasure.reapply). `sealed`: the publish_log values of an
        encrypted version (key_id, hashed_search). `model`: the match model file the version was resolved with.
        The changes from the live version to the new one go into the change feed's outbox in the same
        transaction, before the swap (serving.changes).

        With `partial`, `data` holds the rows of its customers only (tables of SWAPPED_WHOLE: all of them): in the
        same one transaction, their rows replace theirs in the live tables (`replaced_rows`) and the feed gets
        their changes; it fails, changing nothing, if the live version is no longer `partial.live_version`.
        """
        self.migrate()
        shadows = {table: shadow_of(table, self.key_names_unique) for table in data}
        counts = self._load_shadows(data, shadows)
        with self.engine.begin() as conn:
            version, at = self._next_version(conn), dt.datetime.now(dt.UTC).replace(tzinfo=None)
            live_sealed = self._live_sealed(conn)
            scrub = bool(sealed) and live_sealed is False
            for statement in self.scrub if scrub else ():
                conn.exec_driver_sql(statement)
            live = self._mark_partial(conn, partial, version) if partial else None
            if FEED_TABLES <= {table.name for table in data}:
                # Encrypted golden attributes cannot be compared in SQL: such versions record no customer.updated.
                record_changes(conn, self.feed_sql, version, at, {t.name: s.name for t, s in shadows.items()},
                               attributes_readable=not sealed and not live_sealed, live=live)
            for table, shadow in shadows.items():
                if partial and table.name not in SWAPPED_WHOLE:
                    self._replace_rows(conn, table, shadow)
                else:
                    self._swap(conn, table, shadow)
            if before_commit is not None:
                before_commit(conn)
            totals = self._totals(conn) if partial else counts
            if partial:
                partial_ids.drop(conn)
            self._log(conn, version, at, run_id, totals, {**(sealed or {}), "model": model})
        for statement in self.scrubbed if scrub else ():
            self._outside_transaction(statement)
        return version, counts

    @final
    def _outside_transaction(self, statement: str) -> None:
        raw = self.engine.raw_connection()  # outside any transaction: a checkpoint cannot run inside one
        try:
            raw.cursor().execute(statement).fetchall()
        finally:
            raw.close()

    @final
    def _load_shadows(self, data: Mapping[Table, Batches], shadows: Mapping[Table, Table]) -> dict[str, int]:
        """Every table's rows into its shadow, `parallel_loads` at a time; rows per table."""
        # The warehouse computes the tables to come while the store writes, one query at a time in table
        # order (together they would share its threads and all finish late). A query waiting to be read holds
        # its whole result (a sort, an aggregate), so only the tables being written and the next one are read
        # ahead: reading all at once held every table of a 1M-record publish in memory (3.5 GB).
        turn = threading.Lock()
        streams: dict[Table, Batches] = {}
        readers: list[ReadAhead] = []
        for table, batches in data.items():
            if not self.read_ahead:
                streams[table] = batches
                continue
            earlier = readers[-(self.parallel_loads + 1)] if len(readers) > self.parallel_loads else None
            readers.append(ReadAhead(batches, turn, after=earlier))
            streams[table] = readers[-1]
        pool = ThreadPoolExecutor(self.parallel_loads, thread_name_prefix="publish")
        try:
            loads = {table: pool.submit(self._load_shadow, table, shadows[table], streams[table]) for table in data}
            return {table.name: load.result() for table, load in loads.items()}
        finally:
            # The readers are stopped before the pool is waited for: when a load fails with batches unread, its
            # reader never finishes, and a later reader waits for it (`after`), so the later load would wait forever.
            for stream in streams.values():
                if isinstance(stream, ReadAhead):
                    stream.close()
            pool.shutdown(cancel_futures=True)
            # A reader stopped inside its query still holds a cursor of the warehouse connection, which cannot
            # close while it runs: the publish ends when its readers have.
            for reader in readers:
                reader.join()

    @final
    def _mark_partial(self, conn: Connection, partial: Partial, version: int) -> dict[str, str]:
        """Check the live version is the one the rows were built against, and list the customers replaced in
        the transaction's temporary table partial_ids; return the live profiles and source records of those
        customers, as relations for the change feed's diff."""
        if version - 1 != partial.live_version:
            raise StoreMovedOn(f"serving: the store's live version is {version - 1}, not {partial.live_version} "
                               "this partial publish was built against; the next publish will be a full one")
        partial_ids.create(conn)
        if partial.customers:
            conn.execute(insert(partial_ids), [{"customer_id": c} for c in partial.customers])
        for statement in self.after_ids:
            conn.exec_driver_sql(statement)
        return {table.name: f"(select * from {table.name} where customer_id in "
                            f"(select customer_id from {partial_ids.name}))"
                for table in (tables.profiles, tables.source_records)}

    @final
    def _replace_rows(self, conn: Connection, table: Table, shadow: Table) -> None:
        """The listed customers' rows of `table` replaced by the shadow's (their new rows).

        A row the same in both stays where it is: most of a dirty customer's search keys, records and links are as
        they were, and every row deleted and inserted again writes pages of the table and of each of its indexes
        (pages all over the store: the dirty customers are scattered through it). At 1M records after 1% new rows,
        this cut what a partial publish writes from 1.74 GB to 1.28 GB."""
        customers = select(partial_ids.c.customer_id)
        if table.name == tables.redirects.name:
            mine = or_(table.c.from_id.in_(customers), table.c.to_id.in_(customers))  # serving.build.REDIRECTED
        else:
            mine = table.c.customer_id.in_(customers)
        conn.execute(delete(table).where(mine, ~_same_row(table, shadow)))
        columns = [c.name for c in table.columns]
        kept = _same_row(shadow, table)
        conn.execute(insert(table).from_select(columns, select(*(shadow.c[c] for c in columns)).where(~kept)))
        shadow.drop(conn)

    @final
    def _totals(self, conn: Connection) -> dict[str, int]:
        """The live customers and source records, for the log of a partial publish."""
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (tables.profiles, tables.source_records)}

    @final
    def _load_shadow(self, table: Table, shadow: Table, batches: Batches) -> int:
        """One table's rows into a fresh shadow, committed (readers never look at shadows)."""
        with self.engine.begin() as conn:
            shadow.drop(conn, checkfirst=True)  # left by a publish that failed before its swap
            shadow.create(conn)
            rows = self._load(conn, shadow, batches)
            self._after_load(conn, table, shadow)
        return rows

    @final
    def _swap(self, conn: Connection, table: Table, shadow: Table) -> None:
        table.drop(conn)
        conn.exec_driver_sql(f"alter table {shadow.name} rename to {table.name}")
        self._after_swap(conn, table)

    @final
    def _live_sealed(self, conn: Connection) -> bool | None:
        """Whether the version being replaced was published encrypted (None before the first publish)."""
        log = tables.publish_log
        row = conn.execute(select(log.c.key_id).order_by(log.c.version.desc()).limit(1)).first()
        return None if row is None else row.key_id is not None

    @final
    def _next_version(self, conn: Connection) -> int:
        log = tables.publish_log
        return int(conn.execute(select(func.coalesce(func.max(log.c.version), 0))).scalar_one()) + 1

    @final
    def _log(self, conn: Connection, version: int, at: dt.datetime, run_id: str | None,
             counts: Mapping[str, int], marks: Mapping[str, str | None]) -> None:
        conn.execute(insert(tables.publish_log).values(
            version=version, published_at=at, run_id=run_id,
            customers=counts.get(tables.profiles.name, 0), records=counts.get(tables.source_records.name, 0),
            **marks))

    @final
    def live_version(self, version: int | None = None) -> LiveVersion | None:
        """The live version (or `version`) as publish_log has it, with the store's schema revision; None when
        nothing has been published (or there is no such version)."""
        log = tables.publish_log
        query = select(log).order_by(log.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query if version is None else query.where(log.c.version == version)).first()
            schema = conn.exec_driver_sql("select version_num from alembic_version").scalar_one()
        if row is None:
            return None
        return LiveVersion(row.version, row.published_at.isoformat(), row.key_id, row.hashed_search, str(schema),
                           row.customers)

    @final
    def current_version(self) -> int | None:
        """The published version readers see, or None before the first publish."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(tables.publish_log.c.version))).scalar_one()

    @final
    def export_csv(self, query: str, header: list[str], out: Path) -> int:
        """Rows of a query over the store as CSV with a header line; returns the row count."""
        out.parent.mkdir(parents=True, exist_ok=True)
        with self.engine.connect() as conn, out.open("w", newline="") as f:
            f.write(",".join(header) + "\r\n")
            return self._write_csv(conn, query, header, f)


class SqliteStore(ServingStore):
    """A SQLite file in WAL mode: readers keep reading the old version while a publish writes."""

    backend = "sqlite"
    feed_sql = FeedSql(member="json_extract({doc}, '$.{key}')", array="json_group_array({value})")
    pragmas: ClassVar[tuple[str, ...]] = ("page_size=16384", "journal_mode=WAL", "synchronous=NORMAL",
                                          "busy_timeout=30000", "temp_store=MEMORY", "cache_size=-262144")
    """Set on every connection: 16 kB pages (for a new file: a publish writes a quarter fewer bytes and takes
    a quarter less time than with 4 kB pages, bench/publish.py), WAL (persistent), a 256 MB page cache and
    memory temp for bulk loads."""
    # Freed pages zeroed (SQLite builds without SECURE_DELETE leave them as they were), then the WAL, which holds
    # pages of the plain version as well, copied into the file and emptied. Once, as the store turns encrypted:
    # later versions free pages of sealed values only. A PostgreSQL table dropped has its files unlinked.
    scrub = ("pragma secure_delete = on",)
    scrubbed = ("pragma wal_checkpoint(TRUNCATE)",)
    scratch_pragmas: ClassVar[tuple[str, ...]] = ("page_size=16384", "journal_mode=OFF", "synchronous=OFF",
                                                  "locking_mode=EXCLUSIVE", "cache_size=-262144")
    """Set on the file a load's rows are bound into: read once and deleted, so neither journal nor sync; the page
    cache as the store's (the primary key's b-tree is built there)."""
    timestamp_text: ClassVar[str] = "%Y-%m-%d %H:%M:%S"
    """How SQLAlchemy stores a DateTime in SQLite (Arrow's %S carries the microseconds)."""

    def _create_engine(self, url: str) -> Engine:
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        # pysqlite only opens transactions before DML; take over so DDL is inside the transaction too.
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None
            for pragma in self.pragmas:
                dbapi_conn.execute(f"pragma {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("begin")

        return engine

    def _load(self, conn: Connection, shadow: Table, batches: Batches) -> int:
        # ADBC binds whole Arrow columns in C, where the sqlite3 module wants a Python object per value (what kept
        # the publish's main thread busy). It writes a file of its own, not the store: the driver carries a second
        # copy of SQLite, which does not see this process's other connections' POSIX locks and deletes the WAL
        # under them when it closes (sqlite.org/howtocorrupt.html, 2.2.1). The copy into the shadow is one
        # statement over the same table definition, which SQLite carries out by copying the stored records.
        folder, prefix = self._scratch_place()
        with tempfile.TemporaryDirectory(prefix=prefix, dir=folder) as scratch:
            path = str(Path(scratch) / "rows.db")
            rows = self._bind(path, shadow, batches)
            # Closed after the load's commit rather than pooled: SQLite detaches no file read in an open transaction.
            conn.detach()
            conn.exec_driver_sql("attach ? as bulk", (path,))
            conn.exec_driver_sql(f"insert into {shadow.name} select * from bulk.{shadow.name}")
        return rows

    def _bind(self, path: str, shadow: Table, batches: Batches) -> int:
        """The rows into a new SQLite file at `path` holding the shadow's table; returns how many went in."""
        names = [c.name for c in shadow.columns]
        rows = 0
        with adbc_driver_sqlite.dbapi.connect(path, autocommit=True) as adbc, adbc.cursor() as cursor:
            for pragma in self.scratch_pragmas:
                cursor.execute(f"pragma {pragma}")
            cursor.execute(str(CreateTable(shadow).compile(dialect=self.engine.dialect)))
            for batch in batches:  # one statement each: a batch's types need not be the first's
                columns = [self._column(col) for col in batch.columns]
                cursor.adbc_ingest(shadow.name, pa.record_batch(columns, names=names), mode="append")
                rows += batch.num_rows
        return rows

    def _scratch_place(self) -> tuple[str | None, str]:
        """The folder and name prefix of a load's scratch folder: beside the store file (it has room for the
        tables) and named after it, or in the temp folder for a store in memory. What a killed publish left
        there goes first: the load holds the store's write lock, so no other load of this store is under way."""
        path = self.engine.url.database
        if not path or path == ":memory:":
            return None, "cdp-load-"
        store = Path(path)
        prefix = f"{store.name}.load-"
        for stale in store.parent.iterdir():
            if stale.name.startswith(prefix):
                shutil.rmtree(stale, ignore_errors=True)
        return str(store.parent), prefix

    def _column(self, column: pa.Array) -> pa.Array:
        return pc.strftime(column, self.timestamp_text) if pa.types.is_timestamp(column.type) else column

    def _after_load(self, conn: Connection, table: Table, shadow: Table) -> None:
        pass

    def _after_swap(self, conn: Connection, table: Table) -> None:
        # SQLite cannot rename an index, so the live names are built on the renamed table: still inside
        # the publish's transaction, which in WAL mode blocks no reader.
        for index in table.indexes:
            _create_index(conn, index, table.name)

    def _write_csv(self, conn: Connection, query: str, header: list[str], out: io.TextIOBase) -> int:
        writer = csv.writer(out)
        rows = 0
        for chunk in conn.exec_driver_sql(query).partitions(50_000):
            writer.writerows(chunk)
            rows += len(chunk)
        return rows


class PostgresStore(ServingStore):
    """PostgreSQL through psycopg 3: COPY in and out, indexes built on the shadow before the swap."""

    backend = "postgresql"
    # JIT compiling the diff's many expressions took longer than running them (bench/changes.py: 5.1 s -> 2.3 s).
    feed_sql = FeedSql(member="(({doc})::jsonb ->> '{key}')", array="json_agg({value} order by {value})::text",
                       setup=("set local jit = off",))
    key_names_unique = True  # a primary key is an index, and index names are schema-wide
    after_ids = (f"analyze {partial_ids.name}",)  # else it plans for a big table: scans rather than index lookups
    parallel_loads = 3
    index_memory: ClassVar[str] = "256MB"
    """maintenance_work_mem of each load's transaction."""

    def _create_engine(self, url: str) -> Engine:
        return create_engine(url)

    def _load(self, conn: Connection, shadow: Table, batches: Batches) -> int:
        # Room to sort an index in memory rather than in temp files (the default is 64 MB).
        conn.exec_driver_sql(f"set local maintenance_work_mem = '{self.index_memory}'")
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = ", ".join(c.name for c in shadow.columns)
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")  # NULL unquoted, '' quoted
        rows = 0
        # FREEZE: the shadow was created in this transaction, so its rows can be written frozen.
        with cursor.copy(f"copy {shadow.name} ({columns}) from stdin (format csv, freeze)") as copy:
            for batch in batches:
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
                rows += batch.num_rows
        return rows

    def _after_load(self, conn: Connection, table: Table, shadow: Table) -> None:
        # Built with the load, not after the rename: dropping the live table locks out its readers until commit.
        for index in table.indexes:
            _create_index(conn, index, shadow.name, shadow_name(str(index.name)))

    def _after_swap(self, conn: Connection, table: Table) -> None:
        names = [str(i.name) for i in table.indexes] + ([str(table.primary_key.name)] if table.primary_key.name else [])
        for name in names:  # renaming a primary key's index renames the constraint along
            conn.exec_driver_sql(f"alter index {shadow_name(name)} rename to {name}")

    def _write_csv(self, conn: Connection, query: str, header: list[str], out: io.TextIOBase) -> int:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"copy ({query}) to stdout (format csv)") as copy:
            for data in copy:
                out.write(bytes(data).decode())
        return cursor.rowcount


def _same_row(table: Table, other: Table) -> Exists:
    """SQL: whether `other` holds a row equal to `table`'s in every column (NULL equal to NULL), found through
    `other`'s primary key."""
    key = {c.name for c in table.primary_key.columns}
    return exists().where(*(other.c[c.name] == c if c.name in key else other.c[c.name].is_not_distinct_from(c)
                            for c in table.columns))


def _create_index(conn: Connection, index: Index, table: str, name: str | None = None) -> None:
    """`index` (its columns and the WHERE of a partial index) built on `table`, named `name` or as it is."""
    columns = ", ".join(c.name for c in index.columns)
    where = index.dialect_options[conn.dialect.name]["where"]
    condition = f" where {where.compile(dialect=conn.dialect)}" if where is not None else ""
    conn.exec_driver_sql(f"create index {name or index.name} on {table} ({columns}){condition}")


class ReadStopped(RuntimeError):
    """A writer still reading a ReadAhead that was closed."""


class ReadAhead(Iterable[pa.RecordBatch]):
    """Batches read in a thread from creation on, `depth` ahead of the writer; `close()` ends the thread
    when the writer stops early, and a writer still reading then gets ReadStopped. A reader's error is raised in
    the writer's thread.

    The reader holds `turn` until its first batch is out: the query's blocking part (aggregates, sorts)
    runs alone, and the readers created after it wait. With `after`, it starts only once that reader has
    handed out its last batch (or was closed), so that few queries hold their results at once.
    """

    def __init__(self, batches: Batches, turn: threading.Lock, depth: int = 2, after: ReadAhead | None = None) -> None:
        self._ahead: queue.Queue[tuple[pa.RecordBatch | None, BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self.done = threading.Event()
        """Set when the reader has read its last batch, failed or been closed."""
        self._after = after
        self._thread = threading.Thread(target=self._read, args=(batches, turn), name="publish-read", daemon=True)
        self._thread.start()

    def _offer(self, item: tuple[pa.RecordBatch | None, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, batches: Batches, turn: threading.Lock) -> None:
        stream: Iterator[pa.RecordBatch] | None = None
        try:
            while self._after is not None and not self._after.done.wait(0.1):
                if self._stop.is_set():
                    return
            with turn:
                if self._stop.is_set():
                    return
                stream = iter(batches)
                first = next(stream, None)
            for batch in itertools.chain([first] if first is not None else [], stream):
                if not self._offer((batch, None)):
                    return
            self._offer((None, None))
        except BaseException as exc:  # handed to the writer
            self._offer((None, exc))
        finally:
            try:
                if isinstance(stream, Generator):
                    stream.close()  # its cursor (serving.publish._batches) closes now, not when collected
            finally:
                self.done.set()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch, error = self._ahead.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    raise ReadStopped("publish: the read of this table was stopped (another load failed)") from None
                continue
            if error is not None:
                raise error
            if batch is None:
                return
            yield batch

    def close(self) -> None:
        self._stop.set()
        self.done.set()

    def join(self) -> None:
        """Wait for the reading thread to end (after `close`, once the query it is inside returns)."""
        self._thread.join()
