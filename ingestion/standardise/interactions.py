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
from ingestion.duck import count, drop, ident, literal
from ingestion.standardise import dates
from ingestion.standardise.macros import install, register

TIMES = "_cdp_times"

register(
    r"create or replace temp macro cdp_amount(x) as case when regexp_full_match(trim(x), '\(.*\)') then -1 else 1 end"
    r" * try_cast(regexp_replace(x, '[^0-9.+-]', '', 'g') as DOUBLE)",
)


def stage_interactions(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig) -> int:
    """Build interactions_<source> from the source's raw interaction tables; return the row count."""
    install(con)
    table = interactions_table(source)
    create_table(con, SOURCE_INTERACTIONS, table, replace=True)
    for feed in src.interactions:
        _stage_feed(con, source, src, feed, table)
    return count(con, f"select count(*) from {table}")


def _stage_feed(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, feed: InteractionConfig,
                table: str) -> None:
    raw = ident(raw_table(source, feed.name))
    at, record_key = ident(feed.at), ident(feed.record_key)
    country = src.country.upper()
    dates.read_distinct(con, f"(select {at} as v from {raw})", TIMES, dates.formats_for(feed.formats.get("at"),
                        country), country)
    amount = f"cdp_amount({ident(feed.amount)})" if feed.amount else "NULL::DOUBLE"
    attributes = "json_object(" + ", ".join(f"{literal(c)}, {ident(c)}" for c in feed.attributes) + ")"
    con.execute(f"""
        insert into {table}
        select '{source}', {literal(feed.name)}, r._key, trim(r.{record_key}), '{source}:' || trim(r.{record_key}),
               cdp_timestamp_checked(t.ts), {amount}, {attributes}
        from {raw} r left join {TIMES} t on t.v = r.{at}""")
    _issues(con, source, feed, raw, table)
    drop(con, TIMES)


def _issues(con: duckdb.DuckDBPyConnection, source: str, feed: InteractionConfig, raw: str, table: str) -> None:
    """Replace the feed's attribute issues: unreadable times and amounts, unknown record keys."""
    name = feed_name(source, feed.name)
    con.execute(f"delete from {ATTRIBUTE_ISSUES} where source = ?", [name])
    events = (f'(select e.interaction_id as _id, e."at" as _at, e.amount as _amount, e.source_id as _record_key, r.* '
              f"from {table} e join {raw} r on r._key = e.interaction_id where e.name = {literal(feed.name)})")
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
        select ?, _id, 'record_key', _record_key, ?, _batch
        from {events} e anti join {staged_table(source)} s on s.source_id = e._record_key""",
                [name, f"no record with this key in {source}"])
