"""What the latest load and staging of each feed saw (cdp.schema.INGEST_STATE), so the next run can skip work.

Per feed: the fingerprint of its files, the high-water mark of its `watermark:` column, the rows its raw
table holds, a digest of the settings its raw and staged tables were built with (a changed setting
makes the next run rebuild the table whole), and for an interaction feed the latest raw row it staged
and the state of the source's records it checked record keys against.

A file fingerprint is each file's name, size and modification time, plus a hash of the contents: the
contents are hashed only when a time or size moved, so a file that was merely touched is not read again.
A high-water mark keeps its Python type (an integer compares as a number, not as text) as `type:value`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
from typing import Any

import duckdb

from cdp.schema import INGEST_STATE, ensure_tables

FINGERPRINT, WATERMARK, ROWS, SUPPRESSED = "fingerprint", "watermark", "rows", "suppressed"
LOADED_WITH, STAGED_WITH, STAGED_THROUGH = "loaded_with", "staged_with", "staged_through"
RECORDS_SEEN = "records_seen"
CHUNK = 1 << 20


def read_state(con: duckdb.DuckDBPyConnection, feed: str) -> dict[str, str]:
    """Everything kept for the feed, by key."""
    ensure_tables(con, INGEST_STATE)
    return dict(con.execute(f"select what, value from {INGEST_STATE} where feed = ?", [feed]).fetchall())


def write_state(con: duckdb.DuckDBPyConnection, feed: str, values: dict[str, str | None]) -> None:
    """Set (or, for None, forget) these keys of the feed."""
    ensure_tables(con, INGEST_STATE)
    for what, value in values.items():
        con.execute(f"delete from {INGEST_STATE} where feed = ? and what = ?", [feed, what])
        if value is not None:
            con.execute(f"insert into {INGEST_STATE} values (?, ?, ?)", [feed, what, value])


def digest(*parts: object) -> str:
    """A stable hash of JSON-able settings."""
    return hashlib.md5(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def file_stats(paths: list[str]) -> list[list[Any]]:
    """Name, size and modification time (ns) of each file: cheap, no contents read."""
    return [[path, os.stat(path).st_size, os.stat(path).st_mtime_ns] for path in paths]


def fingerprint(paths: list[str], previous: str | None) -> str:
    """The files' fingerprint (JSON); their contents are hashed only when their stats differ from `previous`'s."""
    stats = file_stats(paths)
    kept = json.loads(previous) if previous else {}
    if kept.get("files") == stats:
        return json.dumps(kept)
    content = hashlib.blake2b()
    for path in paths:
        content.update(path.encode() + b"\0")
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                content.update(chunk)
    return json.dumps({"files": stats, "hash": content.hexdigest()})


def same_files(current: str, previous: str | None) -> bool:
    """Whether two fingerprints describe the same contents (a touched file is the same)."""
    return previous is not None and json.loads(current)["hash"] == json.loads(previous).get("hash")


_TYPES: dict[str, Any] = {
    "int": int, "float": float, "decimal": decimal.Decimal, "str": str,
    "datetime": dt.datetime.fromisoformat, "date": dt.date.fromisoformat,
}


def encode_mark(value: Any) -> str:
    """A high-water mark as text that `decode_mark` turns back into the same typed value."""
    kind = ("datetime" if isinstance(value, dt.datetime) else "date" if isinstance(value, dt.date)
            else "decimal" if isinstance(value, decimal.Decimal) else type(value).__name__)
    if kind not in _TYPES:
        kind, value = "str", str(value)
    text = value.isoformat() if isinstance(value, dt.date) else str(value)
    return f"{kind}:{text}"


def decode_mark(text: str) -> Any:
    kind, _, value = text.partition(":")
    return _TYPES[kind](value)
