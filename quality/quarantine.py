"""`cdp export quarantine`: the rows of the latest load of each feed that were not published.

One line per rejected input row, as ingestion.load classified it: an unreadable row (too many
fields, bad JSON), a blank key (or blank record key of an interaction), or a duplicate key within
one load (the first occurrence is published). Columns: source, source_id, reason, row_number,
batch_id, raw (the row as JSON; an unreadable row as {"_line": its text}), at.

Attribute-level problems (a junk email, an impossible date) do not reject a row: the record is
published without that value, and the problem is kept per record and field in the warehouse's
`attribute_issues` table; `export_attribute_issues` writes those (`cdp export attribute_issues`).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cdp.schema import ATTRIBUTE_ISSUES, QUARANTINE, ensure_tables
from ingestion.duck import count, literal

QUARANTINE_COLUMNS = ("source", "source_id", "reason", "row_number", "batch_id", "raw", '"at"')
ISSUE_COLUMNS = ("source", "source_id", "field", "value", "reason", "batch_id")


def export_quarantine(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Write every quarantined row to `out` as CSV (header first), by feed and row; returns the rows."""
    return _export(con, QUARANTINE, QUARANTINE_COLUMNS, "source, row_number", out)


def export_attribute_issues(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """Write every attribute issue of staging (record, field, value, reason) to `out` as CSV: values set aside,
    and values kept for matching with a flag."""
    return _export(con, ATTRIBUTE_ISSUES, ISSUE_COLUMNS, "source, source_id, field", out)


def _export(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...], order: str, out: Path) -> int:
    ensure_tables(con, table)  # a warehouse before its first run exports just the header
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy (select {', '.join(columns)} from {table} order by {order}) "
                f"to {literal(str(out))} (format csv, header)")
    return count(con, f"select count(*) from {table}")
