"""What an incremental identity run works on: the records changed since the last run, and who they touch.

Identity keeps its own snapshot of what it last resolved (`identity_snapshot`: a hash of each staged
record's values; `identity_state`: the model it scored with), so a run finds its delta by comparing
`staged` with it, whatever path ingestion took. The delta goes to `identity_pending`; `clusters`
adds the records it re-clustered, the later assets work on the customers of those records, and `traits`
empties it. `DIRTY_ALL` in it means "everything": a full run, which the later assets follow.

The customers a run touched go to `dirty_customers` for publishing (cdp.schema).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from cdp.schema import (
    DIRTY_ALL,
    DIRTY_CUSTOMERS,
    IDENTITY_PENDING,
    IDENTITY_SNAPSHOT,
    IDENTITY_STATE,
    MATCH_PAIRS,
    RECORD_CUSTOMER,
    STAGED,
    STEWARD_DECISIONS,
    TABLES,
    create_table,
    ensure_tables,
)
from cdp.warehouse import table_exists

MAX_DELTA_SHARE = 0.2
"""Past this share of changed records a full run is the cheaper one: scoring the delta costs about its share of
the full scoring plus a fixed pass over all records (term frequencies, components), and at a fifth of the records
the two meet; a delta that big also means the data moved enough to deserve fresh term frequencies."""

DELTA = "_identity_delta"
"""Temp table: record_id, whether it is still staged and its new row hash, for each new, changed or deleted record."""

UNHASHED = ("batch_id", "loaded_at")
"""Staged columns a reload changes without changing the record."""


def full_reason(con: duckdb.DuckDBPyConnection, full: bool, model_changed: bool, model: str) -> str | None:
    """Why this run must redo everything, or None when an incremental run can follow the last one."""
    if full:
        return "run tagged full"
    if model_changed:
        return "model trained or refined"
    if not all(table_exists(con, t) for t in (IDENTITY_SNAPSHOT, IDENTITY_STATE, IDENTITY_PENDING, RECORD_CUSTOMER)):
        return "no snapshot of a previous run"  # or matching ran but clustering never followed it
    last = con.execute(f"select model from {IDENTITY_STATE}").fetchall()
    if not last or last[0][0] != model:
        return "model changed since the last run"
    return None


def _row_hash(con: duckdb.DuckDBPyConnection) -> str:
    columns = [c for c, in con.execute("select column_name from information_schema.columns where table_name = ? "
                                       "and table_schema = 'main' order by ordinal_position", [STAGED]).fetchall()
               if c not in UNHASHED]
    return f"hash({', '.join(columns)})"


def find_delta(con: duckdb.DuckDBPyConnection) -> int:
    """Write DELTA: the records new, changed or deleted since the snapshot. Returns how many."""
    con.execute(f"""create or replace temp table {DELTA} as
        select coalesce(s.record_id, p.record_id) as record_id, s.record_id is not null as present, s.row_hash
        from (select record_id, {_row_hash(con)} as row_hash from {STAGED}) s
        full join {IDENTITY_SNAPSHOT} p using (record_id)
        where s.row_hash is distinct from p.row_hash""")
    return con.execute(f"select count(*) from {DELTA}").fetchall()[0][0]


def pend_delta(con: duckdb.DuckDBPyConnection) -> None:
    """Add DELTA's records to the pending ones, with the other records of the customers they had."""
    add_pending(con, f"""select record_id from {DELTA} union all
        select record_id from {RECORD_CUSTOMER} where customer_id in (
            select customer_id from {IDENTITY_SNAPSHOT} semi join {DELTA} using (record_id))""")


def save_snapshot(con: duckdb.DuckDBPyConnection, model: str, delta: bool = False) -> None:
    """Remember the staged records (with the customer they have so far) and the model this run scored.

    `delta`: only DELTA's records changed since the snapshot (`find_delta`), so only their rows are replaced;
    the others' customers are kept current by `remember_customers`.
    """
    customer = "rc.customer_id" if table_exists(con, RECORD_CUSTOMER) else "NULL::VARCHAR"
    joined = f"left join {RECORD_CUSTOMER} rc using (record_id)" if table_exists(con, RECORD_CUSTOMER) else ""
    if delta:
        con.execute(f"delete from {IDENTITY_SNAPSHOT} where record_id in (select record_id from {DELTA})")
        con.execute(f"""insert into {IDENTITY_SNAPSHOT} select s.record_id, s.row_hash::UBIGINT, {customer}
            from {DELTA} s {joined} where s.present""")
    else:
        con.execute(f"""create or replace table {IDENTITY_SNAPSHOT} as
            select s.record_id, {_row_hash(con)}::UBIGINT as row_hash, {customer} as customer_id
            from {STAGED} s {joined}""")
    ensure_tables(con, IDENTITY_STATE)
    seen = con.execute(f"select max(decisions_seen) from {IDENTITY_STATE}").fetchall()[0][0]
    con.execute(f"delete from {IDENTITY_STATE}")
    con.execute(f"insert into {IDENTITY_STATE} values (?, ?)", [model, seen])


def add_pending(con: duckdb.DuckDBPyConnection, records_sql: str) -> None:
    """Add the record ids `records_sql` selects to the pending records."""
    ensure_tables(con, IDENTITY_PENDING)
    con.execute(f"insert into {IDENTITY_PENDING} select distinct record_id from ({records_sql}) on conflict do nothing")


def forget_records(con: duckdb.DuckDBPyConnection, records_sql: str) -> None:
    """An erasure's part: the records `records_sql` selects leave the snapshot, and the other records of their
    customers become pending, so the next run re-clusters them and rebuilds those customers' profiles.

    Call it before the records leave `record_customer`. Without a snapshot the next run is a full one anyway.
    """
    if not (table_exists(con, IDENTITY_SNAPSHOT) and table_exists(con, RECORD_CUSTOMER)):
        return
    add_pending(con, f"""select record_id from {RECORD_CUSTOMER} where customer_id in (
        select customer_id from {RECORD_CUSTOMER} where record_id in ({records_sql}))
        and record_id not in ({records_sql})""")
    for table in (IDENTITY_SNAPSHOT, IDENTITY_PENDING):
        con.execute(f"delete from {table} where record_id in ({records_sql})")


def pend_all(con: duckdb.DuckDBPyConnection) -> None:
    """Mark every record pending: this run is a full one."""
    create_table(con, TABLES[IDENTITY_PENDING], replace=True)
    con.execute(f"insert into {IDENTITY_PENDING} values (?)", [DIRTY_ALL])


def is_full(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the identity assets after `match_pairs` must redo everything (or nothing says what changed)."""
    if not table_exists(con, IDENTITY_PENDING):
        return True
    marks = con.execute(f"select count(*) from {IDENTITY_PENDING} where record_id = ?", [DIRTY_ALL])
    return bool(marks.fetchall()[0][0])


def clear_pending(con: duckdb.DuckDBPyConnection) -> None:
    if table_exists(con, IDENTITY_PENDING):  # a new empty table: deleting every row of its key index costs seconds
        create_table(con, TABLES[IDENTITY_PENDING], replace=True)


def new_decisions(con: duckdb.DuckDBPyConnection) -> str:
    """SQL: the records named by steward decisions the last clustering did not see yet."""
    if not table_exists(con, STEWARD_DECISIONS):
        return "select NULL::VARCHAR as record_id where false"
    seen = f"(select coalesce(max(decisions_seen), '-infinity'::TIMESTAMP) from {IDENTITY_STATE})"
    return f"""select unnest([record_id_l, record_id_r]) as record_id from {STEWARD_DECISIONS}
               where "at" > {seen}"""


def mark_decisions_seen(con: duckdb.DuckDBPyConnection) -> None:
    """Remember the latest steward decision this clustering took in."""
    if table_exists(con, STEWARD_DECISIONS) and table_exists(con, IDENTITY_STATE):
        con.execute(f"""update {IDENTITY_STATE} set decisions_seen = (select max("at") from {STEWARD_DECISIONS})""")


def mark_dirty(con: duckdb.DuckDBPyConnection, customers_sql: str) -> None:
    """Add these customer ids to `dirty_customers`, only if the table exists (missing means a full publish)."""
    if table_exists(con, DIRTY_CUSTOMERS):
        con.execute(f"insert into {DIRTY_CUSTOMERS} select distinct customer_id from ({customers_sql}) "
                    "where customer_id is not null on conflict do nothing")


def mark_all_dirty(con: duckdb.DuckDBPyConnection) -> None:
    """A full identity run: publishing must replace every customer."""
    ensure_tables(con, DIRTY_CUSTOMERS)
    con.execute(f"insert into {DIRTY_CUSTOMERS} values (?) on conflict do nothing", [DIRTY_ALL])


def linked_component_records(con: duckdb.DuckDBPyConnection, links_sql: str, seeds_sql: str, out: str) -> int:
    """Write temp table `out(record_id, component)`: every staged record linked, through the pairs `links_sql`
    selects (record_id_l, record_id_r), to a record `seeds_sql` selects. Returns its row count.

    Components are found over all staged records (scipy, a second or two at a million), since a new link may
    join a seed to records far from any change.
    """
    con.execute("create or replace temp table _identity_nodes as select record_id, "
                f"(row_number() over (order by record_id) - 1)::BIGINT as idx from {STAGED}")
    n = con.execute("select count(*) from _identity_nodes").fetchall()[0][0]
    edges = con.execute(f"""select l.idx as i, r.idx as j from ({links_sql}) p
        join _identity_nodes l on l.record_id = p.record_id_l join _identity_nodes r on r.record_id = p.record_id_r
        """).fetchnumpy()
    graph = coo_matrix((np.ones(edges["i"].size), (edges["i"], edges["j"])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    con.register("_identity_comp", pa.table({"idx": np.arange(n, dtype=np.int64), "component": comp.astype(np.int64)}))
    con.execute(f"""create or replace temp table {out} as
        with nodes as (select n.record_id, c.component from _identity_nodes n join _identity_comp c using (idx))
        select * from nodes where component in (
            select component from nodes where record_id in ({seeds_sql}))""")
    con.unregister("_identity_comp")
    con.execute("drop table _identity_nodes")
    return con.execute(f"select count(*) from {out}").fetchall()[0][0]


def strong_pairs(threshold: float) -> str:
    """SQL: the scored pairs at or above `threshold`."""
    return f"select record_id_l, record_id_r from {MATCH_PAIRS} where match_probability >= {float(threshold)!r}"


def remember_customers(con: duckdb.DuckDBPyConnection, full: bool) -> None:
    """Note in the snapshot the customer each pending record (every record, when `full`) now has."""
    if not table_exists(con, IDENTITY_SNAPSHOT):
        return
    pending = "" if full else f"and s.record_id in (select record_id from {IDENTITY_PENDING})"
    con.execute(f"""update {IDENTITY_SNAPSHOT} s set customer_id = rc.customer_id from {RECORD_CUSTOMER} rc
        where rc.record_id = s.record_id {pending} and s.customer_id is distinct from rc.customer_id""")


def pending_customers() -> str:
    """SQL: the customer ids the pending records have now (run after `customers`), a customer_id column."""
    return f"""select customer_id from {RECORD_CUSTOMER} semi join {IDENTITY_PENDING} using (record_id)"""
