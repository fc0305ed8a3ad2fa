"""Erasure of one customer: out of the published serving store at once, out of the warehouse now or next run.

`erase` runs in one transaction of the serving store, so readers see the customer whole or gone,
and the API keeps serving everyone else meanwhile (SQLite in WAL mode, PostgreSQL's MVCC): it lists
the customer's records on the suppression list (keyed hashes, cdp.datakey) and deletes the profile,
search keys, source records, links, redirects to it, timeline, review candidates and decisions involving
its records, appends an 'erasure' row to the audit, which records that it happened, not what, and a
`customer.erased` event to the change feed, whose earlier events of the customer lose their values.
`erase_from_warehouse` then takes the records out of the warehouse if no run holds it; otherwise the
next run's `suppressions` asset does, before anything is loaded (serving.suppress). An erasure made
while a publish loads its version is applied again to that version in the swap's transaction (`reapply`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from cdp.config import Config
from cdp.datakey import key_id, record_hash
from cdp.warehouse import is_locked, open_warehouse
from serving import audit
from serving.changes import forget_values, lock_outbox, record_erasure
from serving.suppress import SUPPRESSION_SCHEMA, listing_store, purge, sync
from serving.tables import (
    customer_links,
    match_records,
    profiles,
    redirects,
    review_candidates,
    review_decisions,
    search_keys,
    source_records,
    timeline,
)
from serving.tables import suppressions as suppression_list


class OtherKey(ValueError):
    """The suppression list was hashed under another data key than the one given: adding to it would split it."""


@dataclass(frozen=True)
class Erased:
    """What an erasure did in the serving store."""

    customer_id: str
    records: int
    audit_id: int
    hashes: pa.Table
    """The suppressions it listed (SUPPRESSION_SCHEMA), for the warehouse."""


def erase(engine: sa.Engine, customer_id: str, key: bytes, who: str, note: str | None = None) -> Erased | None:
    """Erase a live customer from the published tables (see the module); None when `customer_id` is not live.

    `engine` must begin real transactions (serving.audit.write_engine). OtherKey when the list holds hashes
    under another data key: no run could match both, so nothing is erased until the key is set right.
    """
    at = audit.now()
    with engine.begin() as conn:
        lock_outbox(conn)  # before any other lock: see serving.changes
        _check_key(conn, key_id(key))
        if conn.execute(sa.select(profiles.c.customer_id).where(profiles.c.customer_id == customer_id)).first() is None:
            return None
        sr = source_records.c
        records = conn.execute(sa.select(sr.source, sr.source_id).where(sr.customer_id == customer_id)).all()
        hashes = _list(conn, [record_hash(key, r.source, r.source_id) for r in records], key_id(key), at)
        record_erasure(conn, customer_id, at)
        _take_out(conn, customer_id, [f"{r.source}:{r.source_id}" for r in records])
        audit_id = audit.record(conn, "erasure", who, customer_id=customer_id, note=note, at=at)
    return Erased(customer_id, len(records), audit_id, hashes)


def _take_out(conn: sa.Connection, customer_id: str, record_ids: list[str]) -> None:
    """Delete a customer and its records from every published table, and the decisions on its records."""
    for table in (review_candidates, review_decisions):
        conn.execute(sa.delete(table).where(sa.or_(table.c.record_id_l.in_(record_ids),
                                                   table.c.record_id_r.in_(record_ids))))
    conn.execute(sa.delete(redirects).where(redirects.c.to_id == customer_id))
    for table in (customer_links, timeline, search_keys, source_records, match_records, profiles):
        conn.execute(sa.delete(table).where(table.c.customer_id == customer_id))


def latest_suppression(url: str) -> int:
    """The id of the store's latest suppression (0: none yet), read before a publish loads its version."""
    engine = listing_store(url)
    if engine is None:
        return 0
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(suppression_list.c.suppression_id), 0)))
                       .scalar_one())
    finally:
        engine.dispose()


def reapply(key: bytes, after: int) -> Callable[[sa.Connection], None]:
    """A publish's `before_commit`: the customers of records erased after suppression `after` (while the
    version loaded from a warehouse that still held them) taken out of the version it swaps in."""

    def take_out_late_erasures(conn: sa.Connection) -> None:
        late = set(conn.execute(sa.select(suppression_list.c.record_hash)
                                .where(suppression_list.c.suppression_id > after)).scalars())
        if not late:
            return
        # Rare (an erasure during a publish), and hashes cannot be reversed: every published record is hashed.
        sr = source_records.c
        hit: dict[str, list[str]] = {}
        for r in conn.execute(sa.select(sr.source, sr.source_id, sr.customer_id)):
            if record_hash(key, r.source, r.source_id) in late:
                hit.setdefault(r.customer_id, []).append(f"{r.source}:{r.source_id}")
        for customer_id in hit:
            forget_values(conn, customer_id)  # the version's own events of the customer, found before the swap
            customer_records = conn.execute(sa.select(sr.source, sr.source_id).where(sr.customer_id == customer_id))
            _take_out(conn, customer_id, [f"{s}:{i}" for s, i in customer_records])

    return take_out_late_erasures


def _check_key(conn: sa.Connection, current: str) -> None:
    others = conn.execute(sa.select(suppression_list.c.key_id).where(suppression_list.c.key_id != current)
                          .limit(1)).scalar()
    if others is not None:
        raise OtherKey(f"the suppression list is hashed under data key {others}, this process has {current}: "
                       "set CDP_DATA_KEY (or restore the state folder's data.key) to the key of earlier erasures")


def _list(conn: sa.Connection, hashes: list[str], key: str, at: object) -> pa.Table:
    """Add the hashes not listed yet to the store's suppressions; return every one as a suppression row."""
    listed = set(conn.execute(sa.select(suppression_list.c.record_hash)
                              .where(suppression_list.c.record_hash.in_(hashes))).scalars())
    fresh = [{"record_hash": h, "key_id": key, "at": at} for h in hashes if h not in listed]
    if fresh:
        conn.execute(sa.insert(suppression_list), fresh)
    return pa.Table.from_pylist([{"record_hash": h, "key_id": key, "at": at} for h in hashes], SUPPRESSION_SCHEMA)


def erase_from_warehouse(cfg: Config, key: bytes, hashes: pa.Table) -> bool:
    """List the hashes in the warehouse and purge it now, if no other process holds it; False when one does
    (a run, `cdp dagster`): the next run's `suppressions` asset purges it before loading anything."""
    if not cfg.warehouse_path.exists():
        return True  # nothing was ever run: nothing to take out
    try:
        with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
            sync(con, hashes)
            purge(con, cfg, key)
    except duckdb.Error as exc:
        if is_locked(exc):
            return False
        raise
    return True
