"""Raw load: land a feed, keep its publishable rows in raw_<feed>, quarantine the rest, log the load.

A feed is a source's records or one of its interaction feeds; its name (`sales`, `sales__orders`)
names the raw table and is the `source` in quarantine and load_log. Each load replaces the
previous snapshot. A row is not published, but quarantined with its reason, when it could not be
read, its key is blank (or, for interactions, its record key), its record was erased (ingestion.suppress:
quarantined without its values), or an earlier row of the same load has the same key: the first occurrence
is kept. `_row_hash` (md5 of the row's values) lets a load count, against the snapshot it replaces, the
keys that are new, changed and vanished.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import duckdb

from cdp.config import ConfigError, InteractionConfig, Location, SourceConfig
from cdp.schema import ERASED, LOAD_LOG, QUARANTINE, ensure_tables, feed_name, raw_table
from cdp.warehouse import table_exists
from ingestion.connectors import connector_for, describe_missing
from ingestion.duck import drop, ident, literal
from ingestion.suppress import erased_sql, prepare

LANDING = "_cdp_landing"
CLASSIFIED = "_cdp_classified"


@dataclass(frozen=True)
class Feed:
    """One thing to load: a source's records, or one of its interaction feeds."""

    name: str
    """`<source>` or `<source>__<interaction>` (cdp.schema.feed_name): the raw table's suffix and the `source`
    in bookkeeping."""
    location: Location
    key: str
    """Column holding the row's key: unique and never blank in what is published."""
    columns: dict[str, str]
    """Every column the config maps, by the config key naming it (sources.sales.fields.email: email)."""
    source: str
    """The source whose records the rows are, or belong to."""
    record_key: str
    """Column holding the key of the source record a row is (`key`) or belongs to (an interaction's)."""
    required: tuple[str, ...] = ()
    """Further columns that must not be blank (an interaction's record key)."""

    @property
    def table(self) -> str:
        return raw_table(self.name)


@dataclass(frozen=True)
class LoadStats:
    """One load_log row: rows_in = rows_published + rows_quarantined."""

    source: str
    batch_id: str
    rows_in: int
    rows_published: int
    rows_quarantined: int
    rows_new: int
    rows_changed: int
    rows_vanished: int
    loaded_at: dt.datetime


def feeds_of(source: str, src: SourceConfig) -> list[Feed]:
    """The source's records feed, then one feed per interaction."""
    where = f"sources.{source}"
    columns = {f"{where}.key": src.key} | {f"{where}.fields.{a}": c for a, c in src.fields.items()}
    columns |= {f"{where}.updated_at": src.updated_at} if src.updated_at else {}
    return [Feed(source, src.location, src.key, columns, source, src.key),
            *(_interaction_feed(source, event) for event in src.interactions)]


def _interaction_feed(source: str, event: InteractionConfig) -> Feed:
    where = f"sources.{source}.interactions.{event.name}"
    columns = {f"{where}.key": event.key, f"{where}.record_key": event.record_key, f"{where}.at": event.at}
    columns |= {f"{where}.amount": event.amount} if event.amount else {}
    columns |= {f"{where}.attributes.{c}": c for c in event.attributes}
    return Feed(feed_name(source, event.name), event.location, event.key, columns, source, event.record_key,
                (event.record_key,))


def new_batch_id(source: str) -> str:
    """Id of one load of a source: readable time plus a random suffix."""
    return f"{source}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def load_source(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig,
                data_key: bytes | None = None) -> list[LoadStats]:
    """Load the source's records and interaction feeds under one batch id; return one LoadStats per feed.

    `data_key` (cdp.datakey) hashes record keys against the suppression list; it is needed once the
    warehouse lists an erased record.
    """
    ensure_tables(con, QUARANTINE, LOAD_LOG)
    suppress = prepare(con, data_key)
    batch = new_batch_id(source)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [load_feed(con, feed, batch, loaded_at, suppress) for feed in feeds_of(source, src)]


def load_feed(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime,
              suppress: bool = False) -> LoadStats:
    """Land one feed, publish raw_<feed>, quarantine the rest and log the load (with `suppress`, erased
    records too: ingestion.suppress.prepare must have run on `con`)."""
    drop(con, LANDING, CLASSIFIED)
    connector = connector_for(feed.location)
    columns = connector.land(con, LANDING)
    problems = describe_missing(feed.columns, columns, connector.label)
    if problems:
        raise ConfigError("; ".join(problems))
    con.execute(_classify_sql(feed, columns, suppress))
    stats = _stats(con, feed, batch, loaded_at)
    con.execute("begin")  # the snapshot, its quarantine and its log row change together or not at all
    try:
        _publish(con, feed, columns, batch, loaded_at)
        _quarantine(con, feed, batch, loaded_at)
        con.execute(f"insert into {LOAD_LOG} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", list(vars(stats).values()))
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
    drop(con, LANDING, CLASSIFIED)
    return stats


def _classify_sql(feed: Feed, columns: list[str], suppress: bool) -> str:
    """Every landed row with its trimmed key, values as JSON, row hash, and why it is not published."""
    raw = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in columns) + ")"
    blanks = [f"when nullif(trim({ident(c)}), '') is null then {literal(f'blank record key (column {c})')}"
              for c in feed.required]
    complete = " and ".join(["_error is null", "_key is not null",
                             *(f"nullif(trim({ident(c)}), '') is not null" for c in feed.required)])
    return f"""
        create temp table {CLASSIFIED} as
        select *, case
                when _error is not null then _error
                when _key is null then {literal(f"blank key (column {feed.key})")}
                {' '.join(blanks)}
                when _erased then {literal(ERASED)}
                when _kept <> _row_number then
                    'duplicate key: row ' || _kept || {literal(f" has the same {feed.key} and is kept")}
            end as _reason
        from (
            select *, min(_row_number) over (partition by _key, _complete) as _kept
            from (
                select *, {complete} as _complete, md5(_raw::VARCHAR) as _row_hash,
                       {erased_sql(feed.source, feed.record_key) if suppress else 'false'} as _erased
                from (select *, nullif(trim({ident(feed.key)}), '') as _key, {raw} as _raw from {LANDING})))"""


def _stats(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime) -> LoadStats:
    rows_in, published, quarantined = con.execute(f"""
        select count(*), count(*) filter (where _reason is null), count(*) filter (where _reason is not null)
        from {CLASSIFIED}""").fetchall()[0]
    new, changed, vanished = _changes(con, feed)
    return LoadStats(feed.name, batch, rows_in, published, quarantined, new, changed, vanished, loaded_at)


def _changes(con: duckdb.DuckDBPyConnection, feed: Feed) -> tuple[int, int, int]:
    """Keys new, changed and vanished since the snapshot this load replaces."""
    published = f"(select _key, _row_hash from {CLASSIFIED} where _reason is null)"
    if not table_exists(con, feed.table):
        return con.execute(f"select count(*), 0, 0 from {published}").fetchall()[0]
    return con.execute(f"""
        select count(*) filter (where o._key is null),
               count(*) filter (where n._key is not null and o._row_hash is distinct from n._row_hash
                                and o._key is not null),
               count(*) filter (where n._key is null)
        from {published} n full join {ident(feed.table)} o on n._key = o._key""").fetchall()[0]


def _publish(con: duckdb.DuckDBPyConnection, feed: Feed, columns: list[str], batch: str,
             loaded_at: dt.datetime) -> None:
    cols = ", ".join(ident(c) for c in columns)
    con.execute(f"""
        create or replace table {ident(feed.table)} as
        select {cols}, ?::VARCHAR as _source, _key, ?::VARCHAR as _batch, _row_number, _row_hash,
               ?::TIMESTAMP as _loaded_at
        from {CLASSIFIED} where _reason is null""", [feed.name, batch, loaded_at])


def _quarantine(con: duckdb.DuckDBPyConnection, feed: Feed, batch: str, loaded_at: dt.datetime) -> None:
    """Replace the feed's quarantined rows with this load's; an unreadable row keeps its text as `_line`, an
    erased record's row keeps no value."""
    con.execute(f"delete from {QUARANTINE} where source = ?", [feed.name])
    con.execute(f"""
        insert into {QUARANTINE}
        select ?, _key, _row_number, ?, _reason,
               case when _erased then NULL when _error is null then _raw else json_object('_line', _line) end, ?
        from {CLASSIFIED} where _reason is not null order by _row_number""", [feed.name, batch, loaded_at])
