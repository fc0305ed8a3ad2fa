"""Stable customer ids: this run's clusters mapped onto the ids of the previous run.

The rules, all applied in set-based SQL over `clusters` and the previous `record_customer`:

- An old id follows the largest part of its records: the cluster holding most of them is its
  *home* (ties: the smallest cluster_id). Its records in other clusters are a *split*.
- A cluster keeps the oldest id homed in it; any other id homed there is *merged* into it and
  becomes a redirect. Oldest means issued first: ids are issued in sequence, so the lowest number.
- A cluster with no id homed in it gets a *new* id from the warehouse counter `id_counter`,
  numbered in cluster_id order, so ids are readable (C000000001) and never reused.
- An old id with no records left is *gone*: redirects pointing at it are dropped, so every
  redirect points at a live id. Redirects to an id merged away now point at its survivor.

Every new/merge/split/gone event is appended to `id_history`; an unchanged run appends nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import duckdb

from cdp.schema import (
    CLUSTERS,
    CUSTOMERS,
    ID_COUNTER,
    ID_HISTORY,
    ID_REDIRECTS,
    IDENTITY_PENDING,
    RECORD_CUSTOMER,
    ensure_tables,
)
from identity.incremental import is_full, mark_all_dirty, mark_dirty, pending_customers, remember_customers

ID_FORMAT = "C%09d"
"""printf format of a customer id; more than 9 digits simply widen it (order by length, then text)."""

OLDEST_FIRST = "length(customer_id), customer_id"
"""SQL order: ids issued earlier first (they are issued in sequence, zero-padded)."""

ID_TABLES = (RECORD_CUSTOMER, CUSTOMERS, ID_HISTORY, ID_REDIRECTS, ID_COUNTER)
"""The tables an assignment reads from the previous run and writes."""


@dataclass(frozen=True)
class IdStats:
    """What one assignment did, for asset metadata and the stability measure."""

    customers: int
    records: int
    new: int
    merges: int
    splits: int
    gone: int
    redirects: int
    records_carried: int
    """Records present in the previous run and in this one."""
    records_moved: int
    """Of those, the records whose customer id changed."""

    @property
    def kept_share(self) -> float:
        """Share of carried records that kept their customer id (1.0 on a first run)."""
        return 1.0 - self.records_moved / self.records_carried if self.records_carried else 1.0

    def as_metadata(self) -> dict[str, int | float]:
        return asdict(self) | {"kept_share": round(self.kept_share, 6)}


def ensure_id_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the id tables (empty) and the counter (at 0) on first use."""
    ensure_tables(con, *ID_TABLES)
    con.execute(f"insert into {ID_COUNTER} select 0 where not exists (select 1 from {ID_COUNTER})")


def assign_customer_ids(con: duckdb.DuckDBPyConnection, run_id: str, at: dt.datetime | None = None,
                        changed: str | None = None) -> IdStats:
    """Map every record in `clusters` to a stable customer id; write the id tables in one transaction.

    `changed`: SQL selecting the records that may have changed cluster since the last assignment (an incremental
    run's pending records). Only the clusters and previous customers around them are then mapped, the rest keep
    their ids: the result is the full assignment's, since every other cluster is a previous customer as it was.
    Falls back to the full assignment when the id tables do not bear that out.
    """
    at = at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ensure_id_tables(con)
    con.execute("begin transaction")
    try:
        outside = _scope(con, changed) if changed is not None else None
        scoped = outside is not None
        cluster_table, previous_table = (SCOPE_CLUSTERS, SCOPE_PREVIOUS) if scoped else (CLUSTERS, RECORD_CUSTOMER)
        _match_old_ids(con, cluster_table, previous_table)
        _issue_new_ids(con, cluster_table)
        events = _record_events(con, run_id, at, cluster_table, previous_table if scoped else None)
        carried, moved = _movement(con, cluster_table, previous_table)
        _update_redirects(con, run_id, previous_table if scoped else None)
        _write_mapping(con, run_id, cluster_table, scoped)
        stats = IdStats(**_totals(con), **events, records_carried=carried + (outside or 0), records_moved=moved)
        _drop_scratch(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return stats


SCOPE, SCOPE_CLUSTERS, SCOPE_PREVIOUS = "_ids_scope", "_ids_scope_clusters", "_ids_scope_previous"
"""Temp tables of an incremental assignment: its records, and their rows of clusters and of record_customer."""


def _scope(con: duckdb.DuckDBPyConnection, changed: str) -> int | None:
    """Write SCOPE: the `changed` records grown to every cluster and previous customer holding one of them, until
    none is held in part (two passes, typically: a cluster rebuilt around the changes holds its records' previous
    customers whole already); and SCOPE_CLUSTERS, SCOPE_PREVIOUS. Returns the records outside the scope, or None
    when clusters and record_customer do not hold as many outside it: then the previous assignment did not cover
    the records as clustered before (an empty record_customer, say), and only the full assignment is right."""
    con.execute(f"create or replace temp table {SCOPE} as select distinct record_id from ({changed})")
    grown = True
    while grown:
        grown = con.execute(f"""insert into {SCOPE}
            select record_id from {CLUSTERS} where cluster_id in (
                select cluster_id from {CLUSTERS} semi join {SCOPE} using (record_id))
            union
            select record_id from {RECORD_CUSTOMER} where customer_id in (
                select customer_id from {RECORD_CUSTOMER} semi join {SCOPE} using (record_id))
            except select record_id from {SCOPE}""").fetchall()[0][0] > 0
    for table, whole in ((SCOPE_CLUSTERS, CLUSTERS), (SCOPE_PREVIOUS, RECORD_CUSTOMER)):
        con.execute(f"create or replace temp table {table} as select * from {whole} semi join {SCOPE} "
                    "using (record_id)")
    clustered, assigned = con.execute(f"""select
        (select count(*) from {CLUSTERS}) - (select count(*) from {SCOPE_CLUSTERS}),
        (select count(*) from {RECORD_CUSTOMER}) - (select count(*) from {SCOPE_PREVIOUS})""").fetchall()[0]
    return int(clustered) if clustered == assigned else None


def _match_old_ids(con: duckdb.DuckDBPyConnection, cluster_table: str, previous_table: str) -> None:
    """_ids_overlap: records each (cluster, old id) share; _ids_home: each old id's largest part."""
    con.execute(f"""create or replace temp table _ids_overlap as
        select c.cluster_id, p.customer_id, count(*)::BIGINT as n
        from {cluster_table} c join {previous_table} p using (record_id) group by all""")
    con.execute("""create or replace temp table _ids_home as
        select customer_id, cluster_id, n from _ids_overlap
        qualify row_number() over (partition by customer_id order by n desc, cluster_id) = 1""")


def _issue_new_ids(con: duckdb.DuckDBPyConnection, cluster_table: str) -> None:
    """_ids_assigned(cluster_id, customer_id, is_new): the oldest homed id, else the next number."""
    con.execute(f"""create or replace temp table _ids_assigned as
        with kept as (
            select cluster_id, customer_id from _ids_home
            qualify row_number() over (partition by cluster_id order by {OLDEST_FIRST}) = 1),
        fresh as (
            select cluster_id, row_number() over (order by cluster_id) as k
            from (select distinct cluster_id from {cluster_table}) anti join kept using (cluster_id))
        select cluster_id, customer_id, false as is_new from kept
        union all
        select cluster_id, printf('{ID_FORMAT}', k + (select last_number from {ID_COUNTER})), true from fresh""")
    con.execute(f"update {ID_COUNTER} set last_number = last_number + "
                "(select count(*) from _ids_assigned where is_new)")


def _record_events(con: duckdb.DuckDBPyConnection, run_id: str, at: dt.datetime, cluster_table: str,
                   previous_table: str | None) -> dict[str, int]:
    """Append this run's new/merge/split/gone events to id_history; return their counts. `previous`: the
    record_customer rows of an incremental assignment, whose customers alone can be gone."""
    old = f"(select * from {CUSTOMERS} semi join {previous_table} using (customer_id))" if previous_table else CUSTOMERS
    con.execute(f"""create or replace temp table _ids_events as
        select 'new' as event, a.customer_id, NULL::VARCHAR as other_id, {_records('s.n')} as detail
        from _ids_assigned a join (select cluster_id, count(*) as n from {cluster_table} group by all) s
            using (cluster_id)
        where a.is_new
        union all
        select 'merge', a.customer_id, h.customer_id, {_records('h.n', ' joined')}
        from _ids_home h join _ids_assigned a using (cluster_id) where h.customer_id <> a.customer_id
        union all
        select 'split', o.customer_id, a.customer_id, {_records('o.n', ' moved')}
        from _ids_overlap o join _ids_home h using (customer_id) join _ids_assigned a on a.cluster_id = o.cluster_id
        where o.cluster_id <> h.cluster_id
        union all
        select 'gone', customer_id, NULL, 'no records left' from {old} anti join _ids_home using (customer_id)""")
    con.execute(f"""insert into {ID_HISTORY}
        select ?, ?, event, customer_id, other_id, detail from _ids_events
        order by event, length(customer_id), customer_id, other_id""", [run_id, at])
    counts = dict(con.execute("select event, count(*) from _ids_events group by all").fetchall())
    return {"new": counts.get("new", 0), "merges": counts.get("merge", 0),
            "splits": counts.get("split", 0), "gone": counts.get("gone", 0)}


def _records(count: str, tail: str = "") -> str:
    """SQL text for the history's detail: '1 record joined', '3 records moved'."""
    return f"printf('%d record%s{tail}', {count}, if({count} = 1, '', 's'))"


def _movement(con: duckdb.DuckDBPyConnection, cluster_table: str, previous_table: str) -> tuple[int, int]:
    """Records present in both runs, and how many of them changed customer id."""
    rows = con.execute(f"""
        select count(*), count(*) filter (where a.customer_id <> p.customer_id)
        from {cluster_table} c join {previous_table} p using (record_id) join _ids_assigned a using (cluster_id)
        """).fetchall()
    return int(rows[0][0]), int(rows[0][1])


def _update_redirects(con: duckdb.DuckDBPyConnection, run_id: str, previous_table: str | None) -> None:
    """Re-point redirects at the survivors of this run's merges, drop those to gone ids, add the merges.

    A re-pointed redirect keeps its run_id: the run in which its id stopped being live. `previous`: the
    record_customer rows of an incremental assignment: only ids among theirs can have stopped being live.
    """
    con.execute("""create or replace temp table _ids_merged as
        select h.customer_id as from_id, a.customer_id as to_id
        from _ids_home h join _ids_assigned a using (cluster_id) where h.customer_id <> a.customer_id""")
    con.execute(f"update {ID_REDIRECTS} r set to_id = m.to_id from _ids_merged m where r.to_id = m.from_id")
    mapped = f" and to_id in (select customer_id from {previous_table})" if previous_table else ""
    con.execute(f"delete from {ID_REDIRECTS} where to_id not in (select customer_id from _ids_assigned){mapped}")
    con.execute(f"insert into {ID_REDIRECTS} select from_id, to_id, ? from _ids_merged order by from_id", [run_id])


def _write_mapping(con: duckdb.DuckDBPyConnection, run_id: str, cluster_table: str, scoped: bool) -> None:
    """Replace record_customer and customers (created_run kept for ids that live on); when `scoped`, only the
    rows of SCOPE's records and of the customers they had and have."""
    con.execute(f"""create or replace temp table _ids_customers as
        select a.customer_id, coalesce(k.created_run, ?) as created_run, s.size
        from _ids_assigned a
        join (select cluster_id, count(*) as size from {cluster_table} group by all) s using (cluster_id)
        left join {CUSTOMERS} k using (customer_id)""", [run_id])
    mapping = f"select c.record_id, a.customer_id from {cluster_table} c join _ids_assigned a using (cluster_id)"
    if not scoped:
        con.execute(f"create or replace table {RECORD_CUSTOMER} as {mapping}")
        con.execute(f"""create or replace table {CUSTOMERS} as
            select * from _ids_customers order by length(customer_id), customer_id""")
        return
    con.execute(f"""delete from {CUSTOMERS} where customer_id in (select customer_id from {SCOPE_PREVIOUS})
        or customer_id in (select customer_id from _ids_customers)""")
    con.execute(f"insert into {CUSTOMERS} select * from _ids_customers order by length(customer_id), customer_id")
    con.execute(f"delete from {RECORD_CUSTOMER} where record_id in (select record_id from {SCOPE})")
    con.execute(f"insert into {RECORD_CUSTOMER} {mapping}")


def _totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(f"""select (select count(*) from {CUSTOMERS}), (select count(*) from {RECORD_CUSTOMER}),
        (select count(*) from {ID_REDIRECTS})""").fetchall()
    return dict(zip(("customers", "records", "redirects"), map(int, rows[0]), strict=True))


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("_ids_overlap", "_ids_home", "_ids_assigned", "_ids_events", "_ids_merged", "_ids_customers",
                  SCOPE, SCOPE_CLUSTERS, SCOPE_PREVIOUS):
        con.execute(f"drop table if exists {table}")


def assign_changed(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[IdStats, str]:
    """`assign_customer_ids`, marking dirty for publishing the customers the pending records had and have
    (every customer after a full `match_pairs`). Returns the stats and the mode (`full` or `incremental`)."""
    full = is_full(con)
    if not full:
        mark_dirty(con, pending_customers())  # before: the ids they had, some merged away or gone now
    stats = assign_customer_ids(con, run_id, changed=None if full else f"select record_id from {IDENTITY_PENDING}")
    if full:
        mark_all_dirty(con)
    else:
        mark_dirty(con, pending_customers())
    remember_customers(con, full)
    return stats, "full" if full else "incremental"
