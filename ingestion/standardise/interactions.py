"""Standardise a source's interaction feeds into interactions_<source>.

Each feed's raw table gives rows (source, name, interaction_id, source_id, record_id, at, amount,
attributes): `at` read like any timestamp (the feed's `formats: {at: ...}` hint first), `amount`
from money text ("$1,234.50", "(12.00)" for a negative), `attributes` a JSON object of the listed
columns as sent. Unreadable times and amounts, and events whose record key matches no record of
the source, are kept and logged in attribute_issues under the feed's name (`<source>__<name>`).
"""

from __future__ import annotations

import duckdb

from cdp.config import InteractionConfig, SourceConfig
from cdp.schema import (
    ATTRIBUTE_ISSUES,
    SOURCE_INTERACTIONS,
    create_table,
    feed_name,
    interactions_table,
    raw_table,
    staged_table,
)
from cdp.warehouse import table_exists
from ingestion.duck import count, drop, ident, literal
from ingestion.standardise import dates
from ingestion.standardise.macros import install, register
from ingestion.state import RECORDS_SEEN, STAGED_THROUGH, STAGED_WITH, digest, read_state, write_state

TIMES, CHANGED = "_cdp_times", "_cdp_events_changed"

register(
    r"create or replace temp macro cdp_amount(x) as case when regexp_full_match(trim(x), '\(.*\)') then -1 else 1 end"
    r" * try_cast(regexp_replace(x, '[^0-9.+-]', '', 'g') as DOUBLE)",
)


def stage_interactions(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, full: bool = True) -> int:
    """Build interactions_<source> from the source's raw interaction tables; return the row count.

    Without `full`, a feed restages only the events its raw table received since its last staging (by
    `_loaded_at`) and drops the vanished ones, unless a setting it reads changed.
    """
    install(con)
    table = interactions_table(source)
    rebuild = full or not table_exists(con, table)
    create_table(con, SOURCE_INTERACTIONS, table, replace=rebuild)
    for feed in src.interactions:
        _stage_feed(con, source, src, feed, table, rebuild)
    return count(con, f"select count(*) from {table}")


def _stage_feed(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, feed: InteractionConfig,
                table: str, rebuild: bool) -> None:
    name, raw = feed_name(source, feed.name), ident(raw_table(source, feed.name))
    state, country = read_state(con, name), src.country.upper()
    settings = digest(feed.model_dump(mode="json", exclude={"location", "watermark"}), country)
    through = state.get(STAGED_THROUGH) if not rebuild and state.get(STAGED_WITH) == settings else None
    # The source's records as far as unknown record keys go: any key added, changed or gone moves this.
    records = str(con.execute(f"select count(*), max(loaded_at) from {staged_table(source)}").fetchall()[0])
    keys = None if through is None else _changed(con, feed, raw, table, through)
    if keys and state.get(RECORDS_SEEN) == records and not count(con, f"select count(*) from {CHANGED}"):
        drop(con, CHANGED)
        return
    con.execute(f"delete from {table} where name = ?{f' and interaction_id in {keys}' if keys else ''}", [feed.name])
    rows = f"(select * from {raw}{f' where _key in {keys}' if keys else ''})"
    at, record_key = ident(feed.at), ident(feed.record_key)
    dates.read_distinct(con, f"(select {at} as v from {rows})", TIMES, dates.formats_for(feed.formats.get("at"),
                        country), country)
    amount = f"cdp_amount({ident(feed.amount)})" if feed.amount else "NULL::DOUBLE"
    attributes = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in feed.attributes) + ")"
    con.execute(f"""
        insert into {table}
        select '{source}', {literal(feed.name)}, r._key, trim(r.{record_key}), '{source}:' || trim(r.{record_key}),
               cdp_timestamp_checked(t.ts), {amount}, {attributes}
        from {rows} r left join {TIMES} t on t.v = r.{at}""")
    _issues(con, source, feed, raw, table, keys)
    latest = con.execute(f"select max(_loaded_at)::VARCHAR from {raw}").fetchall()[0][0]
    write_state(con, name, {STAGED_WITH: settings, STAGED_THROUGH: latest, RECORDS_SEEN: records})
    drop(con, TIMES, CHANGED)


def _changed(con: duckdb.DuckDBPyConnection, feed: InteractionConfig, raw: str, table: str, through: str) -> str:
    """Fill CHANGED with the events loaded after `through` and those gone from the raw table; a SQL list of them."""
    con.execute(f"""
        create or replace temp table {CHANGED} as
        select _key as key from {raw} where _loaded_at > ?::TIMESTAMP
        union all
        select interaction_id from {table} e anti join {raw} r on r._key = e.interaction_id where e.name = ?""",
                [through, feed.name])
    return f"(select key from {CHANGED})"


def _issues(con: duckdb.DuckDBPyConnection, source: str, feed: InteractionConfig, raw: str, table: str,
            keys: str | None) -> None:
    """Replace the feed's attribute issues: unreadable times and amounts (of the events `keys` lists, if
    given), and unknown record keys (of every event: records may have come or gone)."""
    name = feed_name(source, feed.name)
    mine = f"source = {literal(name)}"
    con.execute(f"delete from {ATTRIBUTE_ISSUES} where {mine} and "
                f"(field = 'record_key' or {f'source_id in {keys}' if keys else 'true'})")
    every = (f'(select e.interaction_id as _id, e."at" as _at, e.amount as _amount, e.source_id as _record_key, r.* '
             f"from {table} e join {raw} r on r._key = e.interaction_id where e.name = {literal(feed.name)})")
    events = f"(select * from {every} where _id in {keys})" if keys else every
    checks = [("at", feed.at, "_at is null", "unreadable or out-of-range time")]
    if feed.amount:
        checks.append(("amount", feed.amount, "_amount is null", "not an amount"))
    for field, column, missing, reason in checks:
        con.execute(f"""
            insert into {ATTRIBUTE_ISSUES}
            select ?, _id, ?, {ident(column)}, ?, _batch from {events}
            where nullif(trim({ident(column)}), '') is not null and {missing}""", [name, field, reason])
    con.execute(f"""
        insert into {ATTRIBUTE_ISSUES}
        select ?, e.interaction_id, 'record_key', e.source_id, ?, r._batch
        from {table} e join {raw} r on r._key = e.interaction_id
        anti join {staged_table(source)} s on s.source_id = e.source_id
        where e.name = ?""", [name, f"no record with this key in {source}", feed.name])
