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

from cdp.schema import CLUSTERS, CUSTOMERS, ID_COUNTER, ID_HISTORY, ID_REDIRECTS, RECORD_CUSTOMER, ensure_tables
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


def assign_customer_ids(con: duckdb.DuckDBPyConnection, run_id: str, at: dt.datetime | None = None) -> IdStats:
    """Map every record in `clusters` to a stable customer id; write the id tables in one transaction."""
    at = at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ensure_id_tables(con)
    con.execute("begin transaction")
    try:
        _match_old_ids(con)
        _issue_new_ids(con)
        events = _record_events(con, run_id, at)
        carried, moved = _movement(con)
        _update_redirects(con, run_id)
        _write_mapping(con, run_id)
        stats = IdStats(**_totals(con), **events, records_carried=carried, records_moved=moved)
        _drop_scratch(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return stats


def _match_old_ids(con: duckdb.DuckDBPyConnection) -> None:
    """_ids_overlap: records each (cluster, old id) share; _ids_home: each old id's largest part."""
    con.execute(f"""create or replace temp table _ids_overlap as
        select c.cluster_id, p.customer_id, count(*)::BIGINT as n
        from {CLUSTERS} c join {RECORD_CUSTOMER} p using (record_id) group by all""")
    con.execute("""create or replace temp table _ids_home as
        select customer_id, cluster_id, n from _ids_overlap
        qualify row_number() over (partition by customer_id order by n desc, cluster_id) = 1""")


def _issue_new_ids(con: duckdb.DuckDBPyConnection) -> None:
    """_ids_assigned(cluster_id, customer_id, is_new): the oldest homed id, else the next number."""
    con.execute(f"""create or replace temp table _ids_assigned as
        with kept as (
            select cluster_id, customer_id from _ids_home
            qualify row_number() over (partition by cluster_id order by {OLDEST_FIRST}) = 1),
        fresh as (
            select cluster_id, row_number() over (order by cluster_id) as k
            from (select distinct cluster_id from {CLUSTERS}) anti join kept using (cluster_id))
        select cluster_id, customer_id, false as is_new from kept
        union all
        select cluster_id, printf('{ID_FORMAT}', k + (select last_number from {ID_COUNTER})), true from fresh""")
    con.execute(f"update {ID_COUNTER} set last_number = last_number + "
                "(select count(*) from _ids_assigned where is_new)")


def _record_events(con: duckdb.DuckDBPyConnection, run_id: str, at: dt.datetime) -> dict[str, int]:
    """Append this run's new/merge/split/gone events to id_history; return their counts."""
    con.execute(f"""create or replace temp table _ids_events as
        select 'new' as event, a.customer_id, NULL::VARCHAR as other_id, {_records('s.n')} as detail
        from _ids_assigned a join (select cluster_id, count(*) as n from {CLUSTERS} group by all) s using (cluster_id)
        where a.is_new
        union all
        select 'merge', a.customer_id, h.customer_id, {_records('h.n', ' joined')}
        from _ids_home h join _ids_assigned a using (cluster_id) where h.customer_id <> a.customer_id
        union all
        select 'split', o.customer_id, a.customer_id, {_records('o.n', ' moved')}
        from _ids_overlap o join _ids_home h using (customer_id) join _ids_assigned a on a.cluster_id = o.cluster_id
        where o.cluster_id <> h.cluster_id
        union all
        select 'gone', customer_id, NULL, 'no records left' from {CUSTOMERS} anti join _ids_home using (customer_id)""")
    con.execute(f"""insert into {ID_HISTORY}
        select ?, ?, event, customer_id, other_id, detail from _ids_events
        order by event, length(customer_id), customer_id, other_id""", [run_id, at])
    counts = dict(con.execute("select event, count(*) from _ids_events group by all").fetchall())
    return {"new": counts.get("new", 0), "merges": counts.get("merge", 0),
            "splits": counts.get("split", 0), "gone": counts.get("gone", 0)}


def _records(count: str, tail: str = "") -> str:
    """SQL text for the history's detail: '1 record joined', '3 records moved'."""
    return f"printf('%d record%s{tail}', {count}, if({count} = 1, '', 's'))"


def _movement(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """Records present in both runs, and how many of them changed customer id."""
    rows = con.execute(f"""
        select count(*), count(*) filter (where a.customer_id <> p.customer_id)
        from {CLUSTERS} c join {RECORD_CUSTOMER} p using (record_id) join _ids_assigned a using (cluster_id)
        """).fetchall()
    return int(rows[0][0]), int(rows[0][1])


def _update_redirects(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Re-point redirects at the survivors of this run's merges, drop those to gone ids, add the merges.

    A re-pointed redirect keeps its run_id: the run in which its id stopped being live.
    """
    con.execute("""create or replace temp table _ids_merged as
        select h.customer_id as from_id, a.customer_id as to_id
        from _ids_home h join _ids_assigned a using (cluster_id) where h.customer_id <> a.customer_id""")
    con.execute(f"update {ID_REDIRECTS} r set to_id = m.to_id from _ids_merged m where r.to_id = m.from_id")
    con.execute(f"delete from {ID_REDIRECTS} where to_id not in (select customer_id from _ids_assigned)")
    con.execute(f"insert into {ID_REDIRECTS} select from_id, to_id, ? from _ids_merged order by from_id", [run_id])


def _write_mapping(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Replace record_customer and customers (created_run kept for ids that live on)."""
    con.execute(f"""create or replace temp table _ids_customers as
        select a.customer_id, coalesce(k.created_run, ?) as created_run, s.size
        from _ids_assigned a
        join (select cluster_id, count(*) as size from {CLUSTERS} group by all) s using (cluster_id)
        left join {CUSTOMERS} k using (customer_id)""", [run_id])
    con.execute(f"""create or replace table {RECORD_CUSTOMER} as
        select c.record_id, a.customer_id from {CLUSTERS} c join _ids_assigned a using (cluster_id)""")
    con.execute(f"""create or replace table {CUSTOMERS} as
        select * from _ids_customers order by length(customer_id), customer_id""")


def _totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute(f"""select (select count(*) from {CUSTOMERS}), (select count(*) from {RECORD_CUSTOMER}),
        (select count(*) from {ID_REDIRECTS})""").fetchall()
    return dict(zip(("customers", "records", "redirects"), map(int, rows[0]), strict=True))


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("_ids_overlap", "_ids_home", "_ids_assigned", "_ids_events", "_ids_merged", "_ids_customers"):
        con.execute(f"drop table if exists {table}")


def assign_changed(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[IdStats, str]:
    """`assign_customer_ids`, marking dirty for publishing the customers the pending records had and have
    (every customer after a full `match_pairs`). Returns the stats and the mode (`full` or `incremental`)."""
    full = is_full(con)
    if not full:
        mark_dirty(con, pending_customers())  # before: the ids they had, some merged away or gone now
    stats = assign_customer_ids(con, run_id)
    if full:
        mark_all_dirty(con)
    else:
        mark_dirty(con, pending_customers())
    remember_customers(con, full)
    return stats, "full" if full else "incremental"
