"""The bookkeeping tables ingestion writes beside raw and staged data (columns: cdp/schema.py)."""

from __future__ import annotations

import duckdb

from cdp.schema import ATTRIBUTE_ISSUES, LOAD_LOG, QUARANTINE

DDL = {
    QUARANTINE: "source VARCHAR, source_id VARCHAR, row_number BIGINT, batch_id VARCHAR, reason VARCHAR, "
                'raw JSON, "at" TIMESTAMP',
    ATTRIBUTE_ISSUES: "source VARCHAR, source_id VARCHAR, field VARCHAR, value VARCHAR, reason VARCHAR, "
                      "batch_id VARCHAR",
    LOAD_LOG: "source VARCHAR, batch_id VARCHAR, rows_in BIGINT, rows_published BIGINT, rows_quarantined BIGINT, "
              "rows_new BIGINT, rows_changed BIGINT, rows_vanished BIGINT, loaded_at TIMESTAMP",
}


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the quarantine, attribute_issues and load_log tables on first use."""
    for name, columns in DDL.items():
        con.execute(f"create table if not exists {name} ({columns})")
