"""Publishing as plain functions: the warehouse's golden side into the serving store, and back out as CSV."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import Connection, Table, inspect

from cdp.config import ConfigError
from cdp.datakey import install_keyed_hash
from cdp.schema import CUSTOMERS, DIRTY_CUSTOMERS, IDENTITY_STATE
from cdp.sealing import SEARCH_MACRO
from cdp.warehouse import table_exists
from serving import tables
from serving.build import Lists, queries
from serving.incremental import plan_publish, published
from serving.seal import Sealing, seal_batches
from serving.store import ServingStore

BATCH_ROWS = 50_000
"""Rows per Arrow batch streamed from DuckDB into the store (a profile or timeline row is ~1 kB)."""
SLICE_CUSTOMERS = 50_000
"""Customers per query of a full publish's tables of per-customer lists (serving.build.Lists: profiles, timeline):
DuckDB holds the lists of one slice at a time, unable to spill them, so a slice's memory does not grow with the
data; a slice reads only its own customers' rows of inputs sorted by customer id, so the number of slices does not
make the publish slower."""

CROSSWALK_HEADER = ["source", "source_id", "customer_id"]


@dataclass(frozen=True)
class PublishStats:
    """What one publish wrote, for asset metadata."""

    version: int
    rows: dict[str, int]
    """Rows per serving table."""
    seconds: float
    store: str = field(default="")
    """The store's URL, without any password."""
    mode: str = "full"
    """'full': every table replaced; 'partial': the dirty customers' rows only (serving.incremental)."""
    customers: int = 0
    """Customers whose rows were replaced (a full publish: every live one)."""
    full_because: str = ""
    """Why a full publish was full."""


def publish(con: duckdb.DuckDBPyConnection, url: str, run_id: str | None = None,
            before_commit: Callable[[Connection], None] | None = None, sealing: Sealing | None = None,
            full: bool = False) -> PublishStats:
    """Replace the serving store's published version by the warehouse's current one, atomically.

    Runs the store's migrations first. On any error nothing changes: readers keep the old version, and the
    warehouse its list of dirty customers. `before_commit`: see ServingStore.publish. With a `sealing`, the
    version's personal values are encrypted and its search keys of personal attributes hashed (serving.seal).
    Only the dirty customers' rows are replaced when serving.incremental finds that enough; `full` forces a
    full publish.
    """
    start = time.perf_counter()
    store = ServingStore.open(url)
    marks = {"key_id": sealing.sealer.key_id, "hashed_search": sealing.hashed_search} if sealing else None
    try:
        store.migrate()
        plan = plan_publish(con, store, marks, full)
        dirty = DIRTY_CUSTOMERS if plan.partial else None
        version, rows = store.publish(warehouse_version(con, sealing, dirty), run_id, before_commit, marks,
                                      plan.partial, resolved_with(con))
        published(con, store, version)
    finally:
        store.close()
    customers = len(plan.partial.customers) if plan.partial else rows.get(tables.profiles.name, 0)
    return PublishStats(version, rows, round(time.perf_counter() - start, 3), store.engine.url.render_as_string(),
                        "partial" if plan.partial else "full", customers, plan.reason)


def resolved_with(con: duckdb.DuckDBPyConnection) -> str | None:
    """The match model file identity last scored with (identity_state), None when it has not scored."""
    if not table_exists(con, IDENTITY_STATE):
        return None
    found = con.execute(f"select model from {IDENTITY_STATE}").fetchall()
    return found[0][0] if found else None


def warehouse_version(con: duckdb.DuckDBPyConnection, sealing: Sealing | None = None,
                      dirty: str | None = None) -> dict[Table, Iterator[pa.RecordBatch]]:
    """Per serving table, its rows from the warehouse as a lazy stream of Arrow batches (sealed by `sealing`);
    with `dirty` (a warehouse table of customer ids), those customers' rows only (serving.build.queries).

    A table of per-customer lists is read a slice of customers at a time, in customer id order (customer_slices),
    so the rows and their order are those of one query; a partial publish reads its few customers in one.
    """
    hashed = sealing.hashed if sealing else frozenset()
    search_key = sealing.sealer.search_key if sealing else None
    parts = [None] if dirty else customer_slices(con)
    out = {}
    for table, query in queries(con, hashed, dirty).items():
        if isinstance(query, Lists):
            inputs = [step for name, sql in query.inputs.items() for step in sorted_by_customer(name, sql)]
            batches = _batches(con, [query.rows(part) for part in parts], search_key, inputs)
        else:
            batches = _batches(con, [query], search_key)
        out[table] = seal_batches(table, batches, sealing.sealer) if sealing else batches
    return out


def sorted_by_customer(name: str, sql: str) -> list[str]:
    """Statements writing the rows of `sql` into temporary table `name`, sorted by customer_id."""
    # In two steps: on the 1M demo, the profile sources sorted straight from their join ran out of memory under a
    # 400 MB limit, while the same rows written first, then sorted, passed under 200 MB.
    return [f"create temp table {name}_rows as {sql}",
            f"create temp table {name} as select * from {name}_rows order by customer_id", f"drop table {name}_rows"]


def customer_slices(con: duckdb.DuckDBPyConnection) -> list[str | None]:
    """Conditions on customer_id picking SLICE_CUSTOMERS customers each in id order, together every customer id
    (any, not only the live ones); a single slice is None."""
    starts = [row[0] for row in con.execute(f"""select customer_id from (select customer_id,
        row_number() over (order by customer_id) as n from {CUSTOMERS}) where (n - 1) % {int(SLICE_CUSTOMERS)} = 0
        order by customer_id""").fetchall()]
    bounds = [_text(s) for s in starts[1:]]
    if not bounds:
        return [None]
    ranges: list[str | None] = [f"customer_id < {bounds[0]}"]
    ranges += [f"customer_id >= {lo} and customer_id < {hi}" for lo, hi in itertools.pairwise(bounds)]
    ranges.append(f"customer_id >= {bounds[-1]}")
    return ranges


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _batches(con: duckdb.DuckDBPyConnection, sqls: list[str], search_key: bytes | None = None,
             before: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """The queries' rows, one query after another, as Arrow batches, run when the store starts reading, on a
    cursor of its own so that tables can load in parallel threads (with the search key hash macro when given its
    key); the statements `before` run first on that cursor (its temporary tables end with it)."""
    with con.cursor() as cursor:
        if search_key is not None:
            install_keyed_hash(cursor, SEARCH_MACRO, search_key)
        for statement in before or ():
            cursor.execute(statement)
        for sql in sqls:
            yield from cursor.sql(sql).to_arrow_reader(BATCH_ROWS)


def export_source_records(url: str, out: Path) -> int:
    """Write `source,source_id,customer_id` for every published source record; returns the row count.

    Reads the serving store, so it shows what the API serves (a failed run leaves it unchanged).
    """
    store = ServingStore.open(url)
    try:
        if not inspect(store.engine).has_table(tables.publish_log.name) or store.current_version() is None:
            raise ConfigError(f"serving: nothing has been published to {store.engine.url.render_as_string()} "
                              "yet (run `cdp run` first)")
        query = f"select {', '.join(CROSSWALK_HEADER)} from {tables.source_records.name} order by source, source_id"
        return store.export_csv(query, CROSSWALK_HEADER, out)
    finally:
        store.close()
