"""JSON Lines files: one object per line; a line that is not a JSON object is set aside.

DuckDB's JSON reader can only skip bad lines silently, so each line is read as text (split on
a control character that valid JSON never holds unescaped) and parsed here, which keeps the
unreadable ones for quarantine. Blank lines are not records; positions are line numbers.
Keys become columns in order of first appearance; DuckDB names are case-insensitive, so of two
keys differing only in case the first seen is kept.
"""

from __future__ import annotations

import json
from typing import ClassVar

import duckdb

from cdp.config import JsonlLocation
from ingestion.connectors.files import READ, REJECT_OPTIONS, FileConnector
from ingestion.duck import literal

LINE = "_cdp_line"
IS_OBJECT = f"(json_valid({LINE}) and ltrim({LINE}) like '{{%')"  # json_type() would raise on invalid text
SAMPLE_LINES = 10_000


class JsonlConnector(FileConnector):
    """Reads `path:` (a file or a glob) line by line, taking each object's keys as columns."""

    location: JsonlLocation
    location_class = JsonlLocation
    reader: ClassVar[str] = (
        f"read_csv(?, columns={{'{LINE}': 'VARCHAR'}}, header=false, delim=?, quote='', escape='', "
        f"auto_detect=false, {REJECT_OPTIONS})"
    )
    rejects: ClassVar[bool] = True

    def reader_params(self) -> list[object]:
        return ["\x1f"]

    def file_columns(self, con: duckdb.DuckDBPyConnection, path: str) -> list[str]:
        # The keys of the first lines: cheap, as a check before the run should be.
        lines = f"(select *, row_number() over () as rowid from (select * from {self.reader} limit {SAMPLE_LINES}))"
        return _keys(con, lines, [path, *self.reader_params()])

    def select_meta(self) -> str:
        bad = f"not ({IS_OBJECT})"
        return (f"case when {bad} then 'unreadable record: not a JSON object' end as _error, "
                f"case when {bad} then {LINE} end as _line")

    def select_columns(self, con: duckdb.DuckDBPyConnection) -> list[str]:
        keys = _keys(con, READ)
        if not keys:
            return []
        shape = literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
        return [f"unnest(json_transform(case when {IS_OBJECT} then {LINE} end, {shape}))"]

    def skip_blank(self) -> str:
        return f"where {LINE} is not null"


def _keys(con: duckdb.DuckDBPyConnection, lines: str, params: list[object] | None = None) -> list[str]:
    """Keys of the JSON objects among `lines`, first seen first, one spelling per case-folded key."""
    sql = f"""
        select key from (
            select unnest(k) as key, generate_subscripts(k, 1) as i, r
            from (select json_keys({LINE}) as k, rowid as r from {lines} where {IS_OBJECT}))
        group by key order by min([r, i])"""
    keys: dict[str, str] = {}
    for (key,) in con.execute(sql, params).fetchall():
        keys.setdefault(key.lower(), key)
    return list(keys.values())
