"""`cdp export quarantine`: the rows of each feed's last published load that were not published.

One line per rejected input row, as ingestion.load classified it: an unreadable row (too many
fields, bad JSON), a blank key (or blank record key of an interaction), or a duplicate key within
one load (the first occurrence is published). Columns: source, source_id, reason, row_number,
batch_id, raw (the row as JSON; an unreadable row as {"_line": its text}), at.

Attribute-level problems (a junk email, an impossible date) do not reject a row: the record is
published without that value, and the problem is kept per record and field in the warehouse's
`attribute_issues` table; `export_attribute_issues` writes those (`cdp export attribute_issues`).

The quarantine exported is the one of the last publish (`keep_published`): a run that fails after
loading leaves the export as it was. Values of the personal attributes (`api.pii`) are masked in
`raw` unless asked for, and so is the whole text of an unreadable row of a feed that maps any; so are
the values of those attributes among the attribute issues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from cdp.config import Config
from cdp.schema import ATTRIBUTE_ISSUES, PUBLISHED_QUARANTINE, QUARANTINE, TABLES, create_table, ensure_tables
from cdp.warehouse import table_exists
from ingestion.duck import count, literal

QUARANTINE_COLUMNS = ("source", "source_id", "reason", "row_number", "batch_id", "raw", '"at"')
ISSUE_COLUMNS = ("source", "source_id", "field", "value", "reason", "batch_id")
MASK = "***"
"""What a masked value reads as: nothing of it is kept."""
LINE = "_line"
"""The key of an unreadable row's text in `raw`."""


def personal_columns(cfg: Config) -> dict[str, list[str]]:
    """Per source, the columns mapped to a personal attribute (`api.pii`); sources mapping none are left out."""
    found = {name: sorted({column for attr, column in src.fields.items() if attr in cfg.api.pii})
             for name, src in cfg.sources.items()}
    return {name: columns for name, columns in found.items() if columns}


def export_quarantine(con: duckdb.DuckDBPyConnection, out: Path, masked: Mapping[str, Sequence[str]]) -> int:
    """Write the quarantine of the last publish to `out` as CSV (header first), by feed and row; returns the rows.

    `masked`: per feed, the columns whose values are masked in `raw` (personal_columns); an unreadable row of
    such a feed has its text masked. Empty: everything as sent. Before the first publish, the latest loads'.
    """
    ensure_tables(con, QUARANTINE)
    table = PUBLISHED_QUARANTINE if table_exists(con, PUBLISHED_QUARANTINE) else QUARANTINE
    columns = tuple(_masked_raw(masked) if c == "raw" else c for c in QUARANTINE_COLUMNS)
    return _export(con, table, columns, "source, row_number", out)


def export_attribute_issues(con: duckdb.DuckDBPyConnection, out: Path, masked: Sequence[str]) -> int:
    """Write every attribute issue of staging (record, field, value, reason) to `out` as CSV: values set aside,
    and values kept for matching with a flag. The values of the `masked` attributes are masked."""
    ensure_tables(con, ATTRIBUTE_ISSUES)  # a warehouse before its first run exports just the header
    fields = ", ".join(literal(f) for f in masked)
    value = f"case when field in ({fields}) and nullif(value, '') is not null then '{MASK}' else value end as value"
    columns = tuple(value if c == "value" and masked else c for c in ISSUE_COLUMNS)
    return _export(con, ATTRIBUTE_ISSUES, columns, "source, source_id, field", out)


def keep_published(con: duckdb.DuckDBPyConnection) -> None:
    """Make the current quarantine the exported one: called once the serving store has the run's version."""
    ensure_tables(con, QUARANTINE)
    con.execute("begin")
    create_table(con, TABLES[PUBLISHED_QUARANTINE], replace=True)
    con.execute(f"insert into {PUBLISHED_QUARANTINE} select * from {QUARANTINE}")
    con.execute("commit")


def _masked_raw(masked: Mapping[str, Sequence[str]]) -> str:
    """SQL for `raw` with the listed columns' values of each feed (and its unreadable rows' text) masked."""
    if not masked:
        return "raw"
    lists = " ".join(f"when {literal(feed)} then [{', '.join(literal(c) for c in [*columns, LINE])}]"
                     for feed, columns in masked.items())
    hidden = f"(case source {lists} end)"
    value = (f"case when nullif(e.value, '') is not null and list_contains({hidden}, e.key) then '{MASK}' "
             "else e.value end")
    entries = """map_entries(json_transform(raw, '"MAP(VARCHAR, VARCHAR)"'))"""
    each = f"list_transform({entries}, lambda e: {{'key': e.key, 'value': {value}}})"
    return f"case when {hidden} is null then raw else to_json(map_from_entries({each})) end as raw"


def _export(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], order: str, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy (select {', '.join(columns)} from {table} order by {order}) "
                f"to {literal(str(out))} (format csv, header)")
    return count(con, f"select count(*) from {table}")
