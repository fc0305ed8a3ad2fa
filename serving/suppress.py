"""The suppression list in the warehouse: erased records taken out of every warehouse table.

An erasure (serving.erasure) writes keyed hashes of the person's records to the serving store's
`suppressions`; `sync` copies them into the warehouse's (cdp.schema.SUPPRESSIONS) and `purge` deletes
every listed record, and what was derived from it, from the warehouse: raw rows and their interactions,
staged records and events, quarantined copies, attribute issues, scored pairs, clusters, the crosswalk,
review candidates and decisions, and the customers left without records (golden values, lineage, traits,
id history and redirects). Loads keep the records out afterwards (ingestion.suppress).
Set-based: the record keys are hashed in DuckDB, the list is never turned back into keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from cdp.config import Config
from cdp.datakey import HASH_MACRO
from cdp.schema import (
    ATTRIBUTE_ISSUES,
    CLUSTERS,
    CUSTOMERS,
    DIRTY_CUSTOMERS,
    GOLDEN,
    ID_HISTORY,
    ID_REDIRECTS,
    LINEAGE,
    MATCH_PAIRS,
    QUARANTINE,
    RECORD_CUSTOMER,
    REVIEW_CANDIDATES,
    STEWARD_DECISIONS,
    SUPPRESSIONS,
    TRAITS_TABLE,
    ensure_tables,
    feed_name,
    interactions_table,
    raw_table,
    staged_table,
)
from cdp.warehouse import table_exists
from identity.incremental import forget_records
from ingestion.duck import ident, literal
from ingestion.suppress import prepare
from serving.tables import suppressions

SUPPRESSION_SCHEMA = pa.schema([("record_hash", pa.string()), ("key_id", pa.string()), ("at", pa.timestamp("us"))])
"""The warehouse's suppressions columns, as `store_suppressions` returns them."""
ERASED = "_cdp_erased"
"""Temp table of a purge: (source, source_id, record_id) of every listed record the warehouse still holds."""
GONE = "_cdp_erased_customers"
"""Temp table of a purge: customer ids left without records."""


@dataclass(frozen=True)
class Purge:
    """What one purge took out of the warehouse."""

    records: int
    customers: int


def listing_store(url: str) -> sa.Engine | None:
    """An engine on the serving store at `url` if it has a suppression list yet, else None (no SQLite file is
    created by asking: connecting would make one)."""
    target = sa.make_url(url)
    if target.get_backend_name() == "sqlite" and not Path(target.database or "").is_file():
        return None
    engine = sa.create_engine(target)
    if not sa.inspect(engine).has_table(suppressions.name):
        engine.dispose()
        return None
    return engine


def store_suppressions(url: str) -> pa.Table:
    """Every suppression in the serving store at `url`; none before the first erasure (or publish)."""
    engine = listing_store(url)
    if engine is None:
        return SUPPRESSION_SCHEMA.empty_table()
    try:
        s = suppressions.c
        with engine.connect() as con:
            rows = con.execute(sa.select(s.record_hash, s.key_id, s.at).order_by(s.suppression_id)).all()
    finally:
        engine.dispose()
    return pa.Table.from_pylist([r._asdict() for r in rows], SUPPRESSION_SCHEMA)


def sync(con: duckdb.DuckDBPyConnection, incoming: pa.Table) -> int:
    """Add the suppressions the warehouse lacks (the warehouse keeps its own: a lost store does not lose them);
    returns how many were added."""
    ensure_tables(con, SUPPRESSIONS)
    con.register("_cdp_incoming_suppressions", incoming)
    try:
        added = con.execute(f"""insert into {SUPPRESSIONS}
            select record_hash, any_value(key_id), min("at") from _cdp_incoming_suppressions
            where record_hash not in (select record_hash from {SUPPRESSIONS}) group by record_hash""").fetchall()
    finally:
        con.unregister("_cdp_incoming_suppressions")
    return int(added[0][0]) if added else 0


def purge(con: duckdb.DuckDBPyConnection, cfg: Config, key: bytes) -> Purge:
    """Delete every listed record and what was derived from it from the warehouse, in one transaction."""
    if not prepare(con, key):
        return Purge(0, 0)
    con.execute("begin")
    try:
        records = _find_erased(con, cfg)
        customers = _gone_customers(con) if records else 0
        if records:
            for name, src in cfg.sources.items():
                _purge_source(con, name, [i.record_key for i in src.interactions], [i.name for i in src.interactions])
            _purge_identity(con)
        con.execute(f"drop table if exists {ERASED}")
        con.execute(f"drop table if exists {GONE}")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    return Purge(records, customers)


def _find_erased(con: duckdb.DuckDBPyConnection, cfg: Config) -> int:
    """Fill ERASED with the listed records found in the raw, staged and crosswalk tables; return how many."""
    parts = []
    for name in cfg.sources:
        for table, column in ((raw_table(name), "_key"), (staged_table(name), "source_id")):
            if table_exists(con, table):
                parts.append(f"select {literal(name)} as source, {column} as source_id from {table}")
    for table in (RECORD_CUSTOMER, CLUSTERS):
        if table_exists(con, table):
            parts.append(f"select split_part(record_id, ':', 1), substr(record_id, strpos(record_id, ':') + 1) "
                         f"from {table}")
    known = " union ".join(parts) or "select NULL::VARCHAR as source, NULL::VARCHAR as source_id where false"
    con.execute(f"""create or replace temp table {ERASED} as
        select source, source_id, source || ':' || source_id as record_id from ({known})
        where {HASH_MACRO}(source, source_id) in (select record_hash from {SUPPRESSIONS})""")
    return int(con.execute(f"select count(*) from {ERASED}").fetchall()[0][0])


def _gone_customers(con: duckdb.DuckDBPyConnection) -> int:
    """Fill GONE with the customers every record of which is erased; return how many."""
    if not table_exists(con, RECORD_CUSTOMER):
        con.execute(f"create or replace temp table {GONE} (customer_id VARCHAR)")
        return 0
    con.execute(f"""create or replace temp table {GONE} as
        select customer_id from {RECORD_CUSTOMER}
        group by customer_id having bool_and(record_id in (select record_id from {ERASED}))""")
    return int(con.execute(f"select count(*) from {GONE}").fetchall()[0][0])


def _delete(con: duckdb.DuckDBPyConnection, table: str, where: str) -> None:
    if table_exists(con, table):
        con.execute(f"delete from {ident(table)} where {where}")


def _purge_source(con: duckdb.DuckDBPyConnection, source: str, record_keys: list[str], feeds: list[str]) -> None:
    """One source's raw rows, staged records, events, quarantined copies and attribute issues of erased records."""
    erased = f"(select source_id from {ERASED} where source = {literal(source)})"
    events = interactions_table(source)
    for feed, record_key in zip(feeds, record_keys, strict=True):
        name, raw = feed_name(source, feed), raw_table(source, feed)
        if table_exists(con, raw):  # an event's issues name the event: found through its record before it goes
            events_of = f"select _key from {ident(raw)} where trim({ident(record_key)}::VARCHAR) in {erased}"
            _delete(con, ATTRIBUTE_ISSUES, f"source = {literal(name)} and source_id in ({events_of})")
        _delete(con, raw, f"trim({ident(record_key)}::VARCHAR) in {erased}")
        path = literal(f'$."{record_key}"')  # the record key inside a quarantined row's JSON
        _delete(con, QUARANTINE, f"source = {literal(name)} and trim(raw->>{path}) in {erased}")
    _delete(con, ATTRIBUTE_ISSUES, f"source = {literal(source)} and source_id in {erased}")
    _delete(con, QUARANTINE, f"source = {literal(source)} and source_id in {erased}")
    _delete(con, events, f"source_id in {erased}")
    _delete(con, staged_table(source), f"source_id in {erased}")
    _delete(con, raw_table(source), f"_key in {erased}")


def _purge_identity(con: duckdb.DuckDBPyConnection) -> None:
    """The identity tables' rows of erased records, and of the customers left without records."""
    records = f"(select record_id from {ERASED})"
    pairs = f"record_id_l in {records} or record_id_r in {records}"
    for table in (MATCH_PAIRS, REVIEW_CANDIDATES, STEWARD_DECISIONS):
        _delete(con, table, pairs)
    gone = f"(select customer_id from {GONE})"
    if table_exists(con, DIRTY_CUSTOMERS) and table_exists(con, RECORD_CUSTOMER):  # their served rows change
        con.execute(f"""insert or ignore into {DIRTY_CUSTOMERS}
            select distinct customer_id from {RECORD_CUSTOMER} where record_id in {records}
            and customer_id not in {gone}""")  # a customer erased whole left the store with the erasure
    forget_records(con, f"select record_id from {ERASED}")
    for table in (CLUSTERS, RECORD_CUSTOMER):
        _delete(con, table, f"record_id in {records}")
    for table in (CUSTOMERS, GOLDEN, LINEAGE, TRAITS_TABLE):
        _delete(con, table, f"customer_id in {gone}")
    _delete(con, LINEAGE, f"(source, source_id) in (select source, source_id from {ERASED})")
    _delete(con, ID_HISTORY, f"customer_id in {gone} or other_id in {gone}")
    _delete(con, ID_REDIRECTS, f"from_id in {gone} or to_id in {gone}")
