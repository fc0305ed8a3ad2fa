"""Build `clusters` and `interactions` tables (the schema in cdp/schema.py) from plain Python, for identity tests.

`staged` comes from tests/utils/staged.py.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

import duckdb

from cdp.schema import CLUSTERS, INTERACTIONS, SOURCE_INTERACTIONS, TABLES, create_table


def write_clusters(con: duckdb.DuckDBPyConnection, groups: Iterable[Iterable[str]]) -> None:
    """(Re)create `clusters` from groups of record ids; cluster_id is the smallest record_id of each group."""
    rows = [(record, min(group)) for group in map(list, groups) for record in group]
    create_table(con, TABLES[CLUSTERS], replace=True)
    if rows:
        con.executemany(f"insert into {CLUSTERS} values (?, ?)", rows)


def event(record_id: str, name: str, at: str, amount: float | None = None, **attributes: Any) -> dict[str, Any]:
    """One interaction of the record '<source>:<source_id>' at an ISO time; keyword arguments are its attributes."""
    source, source_id = record_id.split(":", 1)
    return {"source": source, "name": name, "source_id": source_id, "record_id": record_id,
            "at": dt.datetime.fromisoformat(at), "amount": amount, "attributes": json.dumps(attributes)}


def write_interactions(con: duckdb.DuckDBPyConnection, events: list[dict[str, Any]]) -> None:
    """(Re)create `interactions` from dicts made by `event`; interaction ids are numbered in order."""
    create_table(con, SOURCE_INTERACTIONS, INTERACTIONS, replace=True)
    rows = [[e["source"], e["name"], str(i), e["source_id"], e["record_id"], e["at"], e["amount"], e["attributes"]]
            for i, e in enumerate(events, 1)]
    if rows:
        con.executemany(f"insert into {INTERACTIONS} values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
