"""Erased records stay out: a load quarantines the rows of every record on the suppression list.

The list (cdp.schema.SUPPRESSIONS) holds keyed hashes of (source, record key), never values; a load
hashes each landed row's record key the same way, in SQL (cdp.datakey.install_record_hash), and a row
whose hash is listed is quarantined with reason 'erased' and without its values. An interaction is
suppressed by the record it belongs to.
"""

from __future__ import annotations

import duckdb

from cdp.config import ConfigError
from cdp.datakey import HASH_MACRO, install_record_hash, key_id
from cdp.schema import SUPPRESSIONS, ensure_tables
from ingestion.duck import ident, literal


def prepare(con: duckdb.DuckDBPyConnection, key: bytes | None) -> bool:
    """Whether loads on `con` must suppress records; if so, the hash macro is installed with `key`.

    A list hashed under another data key cannot be matched: ConfigError rather than letting erased
    records back in.
    """
    ensure_tables(con, SUPPRESSIONS)
    ids = [row[0] for row in con.execute(f"select distinct key_id from {SUPPRESSIONS}").fetchall()]
    if not ids:
        return False
    if key is None or ids != [key_id(key)]:
        given = key_id(key) if key is not None else "none"
        raise ConfigError(f"suppressions: erased records were hashed under data key {', '.join(ids)}, "
                          f"this run has {given}: set CDP_DATA_KEY (or restore the state folder's data.key) "
                          "to the key used when they were erased")
    install_record_hash(con, key)
    return True


def erased_sql(source: str, record_key: str) -> str:
    """SQL, over rows with the trimmed `record_key` column: whether the row's record is on the list."""
    hashed = f"{HASH_MACRO}({literal(source)}, nullif(trim({ident(record_key)}::VARCHAR), ''))"
    return f"coalesce({hashed} in (select record_hash from {SUPPRESSIONS}), false)"
