"""An access request's warehouse part: a person's source records as the sources sent them, every column.

The serving store keeps only the mapped attributes of a record; the warehouse's raw_<source> tables
keep the whole row as landed. Read-only, and only when no run holds the warehouse.
"""

from __future__ import annotations

from typing import Any

import duckdb

from cdp.config import Config
from cdp.schema import RAW_META, raw_table
from cdp.warehouse import is_locked, open_warehouse, table_exists
from ingestion.duck import ident


def records_as_sent(cfg: Config, records: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    """[{source, source_id, row: {column: value as sent}}] for each of the (source, source_id) records the
    warehouse holds; None when another process (a run) holds the warehouse."""
    if not cfg.warehouse_path.exists():
        return []
    try:
        with open_warehouse(cfg.warehouse_path, read_only=True, options=cfg.warehouse_options) as con:
            return [found for source, source_id in records if (found := _row(con, source, source_id)) is not None]
    except duckdb.Error as exc:
        if is_locked(exc):
            return None
        raise


def _row(con: duckdb.DuckDBPyConnection, source: str, source_id: str) -> dict[str, Any] | None:
    table = raw_table(source)
    if not table_exists(con, table):
        return None
    cursor = con.execute(f"select * exclude ({', '.join(RAW_META)}) from {ident(table)} where _key = ?", [source_id])
    columns = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return {"source": source, "source_id": source_id, "row": dict(zip(columns, rows[0], strict=True))} if rows else None
