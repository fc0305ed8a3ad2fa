"""What the latest load and staging of each feed saw (cdp.schema.INGEST_STATE), so the next run can skip work.

Per feed: the fingerprint of its files, the high-water mark of its `watermark:` column, the rows its raw
table holds, a digest of the settings its raw and staged tables were built with (a changed setting
makes the next run rebuild the table whole), and for an interaction feed the latest raw row it staged
and the state of the source's records it checked record keys against.

A file fingerprint is each file's name, size and modification time, plus a hash of the contents: the
contents are hashed only when a time or size moved, so a file that was merely touched is not read again.
It also keeps each file's own hash and, for a file that grew, the hash of the part the previous fingerprint
saw, so `appended` can tell a feed that only grew at its end; FILE_RECORDS (the records each file held at
the last load) then numbers the new records after the old ones.
A high-water mark keeps its Python type (an integer compares as a number, not as text) as `type:value`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from cdp.schema import INGEST_STATE, ensure_tables

FINGERPRINT, WATERMARK, ROWS, SUPPRESSED = "fingerprint", "watermark", "rows", "suppressed"
LOADED_WITH, STAGED_WITH, STAGED_THROUGH = "loaded_with", "staged_with", "staged_through"
RECORDS_SEEN, FILE_RECORDS = "records_seen", "file_records"
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
    """The files' fingerprint (JSON); their contents are hashed only when their stats differ from `previous`'s.

    `hashes` holds each file's own hash and `hash` all of them with their paths (a fingerprint from before
    `hashes` was kept differs once, so its feed is diffed once); `grown` maps a file holding more bytes than in
    `previous` to [its old size, the hash of its first old-size bytes, their last three bytes in hex].
    """
    stats = file_stats(paths)
    kept = json.loads(previous) if previous else {}
    if kept.get("files") == stats:
        return json.dumps(kept)
    sizes = {path: size for path, size, _ in kept.get("files", [])}
    content, hashes, grown = hashlib.blake2b(), [], {}
    for path, size, _ in stats:
        boundary = sizes.get(path, 0) if 0 < sizes.get(path, 0) < size else 0
        own, prefix = _hash_file(path, boundary)
        content.update(path.encode() + b"\0" + own.encode())
        hashes.append(own)
        if prefix:
            grown[path] = [boundary, *prefix]
    kept = {"files": stats, "hash": content.hexdigest(), "hashes": hashes}
    return json.dumps(kept | {"grown": grown} if grown else kept)


def _hash_file(path: str, boundary: int) -> tuple[str, list[str] | None]:
    """The file's hash and, at `boundary` bytes (if not 0), the hash and last three bytes of what came before."""
    own, done, last, prefix = hashlib.blake2b(), 0, b"", None
    with open(path, "rb") as file:
        while chunk := file.read(min(CHUNK, boundary - done) if done < boundary else CHUNK):
            own.update(chunk)
            done, last = done + len(chunk), (last + chunk[-3:])[-3:]
            if done == boundary:
                prefix = [own.copy().hexdigest(), last.hex()]
    return own.hexdigest(), prefix


@dataclass(frozen=True)
class Appended:
    """What a feed's files gained since the last load, when they only gained records at their end."""

    reads: list[tuple[str, int]]
    """(path, first byte to read): the grown last file from its old end, then the new files whole."""
    records: list[int]
    """Records each file held at the last load, aligned with the last load's files."""

    @property
    def rows_before(self) -> int:
        return sum(self.records)

    def records_after(self, landed: list[int]) -> list[int]:
        """Records per file once the reads, holding `landed` records each, are added."""
        if self.reads[0][1]:
            return [*self.records[:-1], self.records[-1] + landed[0], *landed[1:]]
        return [*self.records, *landed]


def appended(current: str, previous: str | None, records: str | None,
             tail_readable: Callable[[str], bool]) -> Appended | None:
    """What to read when `current` only adds to `previous`, else None (the files must be read whole).

    Every previous file must be there, in its place and unchanged, except the last, which may have grown
    when `tail_readable(path)`, its old bytes are unchanged and they ended a (non-blank) line; new files
    come after. `records` is FILE_RECORDS of the last load (None in a state from before it was kept).
    """
    if previous is None or records is None:
        return None
    now, before, counts = json.loads(current), json.loads(previous), json.loads(records)
    old, new = before.get("files", []), now["files"]
    if not old or "hashes" not in before or "hashes" not in now or len(counts) != len(old) or len(new) < len(old):
        return None
    n = len(old)
    if [f[0] for f in new[:n]] != [f[0] for f in old] or now["hashes"][:n - 1] != before["hashes"][:n - 1]:
        return None
    reads = [(path, 0) for path, _, _ in new[n:]]
    if now["hashes"][n - 1] != before["hashes"][n - 1]:
        path, size = old[-1][0], old[-1][1]
        note = now.get("grown", {}).get(path)
        if not (tail_readable(path) and note and note[:2] == [size, before["hashes"][n - 1]]
                and _ends_a_line(bytes.fromhex(note[2]))):
            return None
        reads.insert(0, (path, size))
    return Appended(reads, counts) if reads else None


def _ends_a_line(last: bytes) -> bool:
    """Whether bytes ending like `last` end a line that is not blank (a blank one is not counted as a record)."""
    return last.endswith(b"\n") and not last.endswith((b"\n\n", b"\n\r\n"))


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
