"""The standardisation stage as plain functions: staged_<source> + interactions_<source>, then the unions."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from cdp.config import Config, SourceConfig
from cdp.schema import (
    ATTRIBUTE_ISSUES,
    INTERACTIONS,
    STAGED,
    ensure_tables,
    feed_name,
    interactions_table,
    staged_table,
)
from cdp.warehouse import table_exists
from ingestion.duck import count
from ingestion.standardise.interactions import stage_interactions
from ingestion.standardise.records import stage_records


@dataclass(frozen=True)
class StageStats:
    """What staging one source produced."""

    records: int
    interactions: int
    attribute_issues: int


def stage_source(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig, full: bool = True) -> StageStats:
    """Standardise the source's raw records and interaction feeds (without `full`, only what changed since the
    last staging: ingestion.standardise.records and .interactions)."""
    ensure_tables(con, ATTRIBUTE_ISSUES)
    records = stage_records(con, source, src, full)
    events = stage_interactions(con, source, src, full)
    feeds = [source, *(feed_name(source, i.name) for i in src.interactions)]
    issues = count(con, f"select count(*) from {ATTRIBUTE_ISSUES} where list_contains(?, source)", [feeds])
    return StageStats(records, events, issues)


def build_unions(con: duckdb.DuckDBPyConnection, cfg: Config) -> dict[str, int]:
    """Views `staged` and `interactions`: every configured source's staged rows and events, unioned.

    Views, not tables: every staged_<source> already holds its rows, and a second copy of a
    million wide rows costs DuckDB several seconds to compress and write for nothing.
    """
    for union, part in ((STAGED, staged_table), (INTERACTIONS, interactions_table)):
        selects = " union all ".join(f"select * from {part(name)}" for name in cfg.sources)
        if table_exists(con, union) and not _is_view(con, union):  # a table left by an earlier version
            con.execute(f"drop table {union}")
        con.execute(f"create or replace view {union} as {selects}")
    return {union: count(con, f"select count(*) from {union}") for union in (STAGED, INTERACTIONS)}


def _is_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("select 1 from duckdb_views() where view_name = ? and schema_name = 'main'",
                            [name]).fetchall())
