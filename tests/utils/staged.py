"""Build a `staged` table (the schema in cdp/schema.py) from a few dicts, for identity tests."""

from __future__ import annotations

from typing import Any

import duckdb

from cdp.schema import ATTRIBUTES

STAGED_COLUMNS: dict[str, str] = {
    "record_id": "VARCHAR", "source": "VARCHAR", "source_id": "VARCHAR", "trust": "INTEGER",
    "batch_id": "VARCHAR", "row_hash": "VARCHAR", "loaded_at": "TIMESTAMP", "updated_at": "TIMESTAMP",
    "first_name": "VARCHAR", "middle_name": "VARCHAR", "last_name": "VARCHAR", "name_suffix": "VARCHAR",
    "first_name_root": "VARCHAR",
    "email": "VARCHAR", "phone": "VARCHAR", "street": "VARCHAR", "city": "VARCHAR", "state": "VARCHAR",
    "postcode": "VARCHAR", "country": "VARCHAR", "tax_id": "VARCHAR", "birth_date": "DATE",
    **{f"{a}_raw": "VARCHAR" for a in ATTRIBUTES},
}


def staged_row(source: str, source_id: str, **attrs: Any) -> dict[str, Any]:
    """One staged record; `first_name_root` defaults to the first name (no nickname folding), and each
    attribute's value as sent (`<attr>_raw`) is NULL unless given."""
    row: dict[str, Any] = dict.fromkeys(STAGED_COLUMNS)
    row.update(source=source, source_id=source_id, record_id=f"{source}:{source_id}", trust=1, batch_id="b1")
    row.update(attrs)
    if row["first_name_root"] is None:
        row["first_name_root"] = row["first_name"]
    return row


def write_staged(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]], table: str = "staged") -> None:
    """(Re)create `table` with the staged columns and insert `rows` (dicts from `staged_row`)."""
    cols = ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS.items())
    con.execute(f"create or replace table {table} ({cols})")
    marks = ", ".join("?" for _ in STAGED_COLUMNS)
    if rows:
        con.executemany(f"insert into {table} values ({marks})", [[r[c] for c in STAGED_COLUMNS] for r in rows])
