"""The data key: the secret behind every keyed hash cdp keeps instead of a value (the erasure suppression list).

It comes from the environment, `CDP_DATA_KEY`, never from cdp.yaml. Without it, a random key is generated
once into the state folder (`<state>/data.key`, mode 0600) and read from there on: the run and the API of
one project then agree on it. Only the environment's key turns on encryption at rest (cdp.sealing): the
generated one lies beside the data it would protect. Each use derives a key of its own from the data key
(HMAC with a label), so no hash is ever taken with the data key itself; `key_id` names a key without
revealing it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the API imports this module without loading DuckDB
    import duckdb

ENV_DATA_KEY = "CDP_DATA_KEY"
KEY_FILE = "data.key"
"""The generated key's file name in the state folder."""
SEPARATOR = "\x1f"
"""Joins a source's name and a record key before hashing (a unit separator: in neither)."""
HASH_MACRO = "cdp_record_hash"
"""DuckDB macro `cdp_record_hash(source, source_id)` that `install_record_hash` creates on a connection."""


def data_key(state_dir: Path) -> bytes:
    """$CDP_DATA_KEY, else the key in `state_dir/data.key`, generated (0600) on first use."""
    env = os.environ.get(ENV_DATA_KEY)
    if env:
        return env.encode()
    path = state_dir / KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        try:  # O_EXCL: two processes generating at once both end with the one that won
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()


def derive(key: bytes, purpose: str) -> bytes:
    """The key of one use of the data key."""
    return hmac.new(key, f"cdp {purpose} v1".encode(), hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A short, stable name of a data key (12 hex digits): stored beside its hashes, never the key."""
    return derive(key, "key id").hex()[:12]


def record_hash(key: bytes, source: str, source_id: str) -> str:
    """HMAC-SHA256 (hex) of a source record's identity, with the suppression key derived from `key`."""
    message = f"{source}{SEPARATOR}{source_id}".encode()
    return hmac.new(derive(key, "suppression"), message, hashlib.sha256).hexdigest()


def install_record_hash(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Create the temp macro `cdp_record_hash(source, source_id)` on `con`: `record_hash` in SQL, set-based."""
    install_keyed_hash(con, HASH_MACRO, derive(key, "suppression"))


def install_keyed_hash(con: duckdb.DuckDBPyConnection, macro: str, hash_key: bytes) -> None:
    """Create the temp macro `<macro>(a, b)` on `con`: HMAC-SHA256 (hex) with `hash_key` of a, SEPARATOR, b.

    HMAC written out (RFC 2104) with DuckDB's sha256 over blobs; the padded key sits in a temp table,
    so it never appears in SQL text or error messages.
    """
    pads = f"_{macro}_pads"
    block = hash_key.ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
    con.execute(f"create or replace temp table {pads} as select ?::BLOB as inner_pad, ?::BLOB as outer_pad",
                [inner, outer])
    con.execute(f"""create or replace temp macro {macro}(a, b) as
        sha256((select outer_pad from {pads})
               || unhex(sha256((select inner_pad from {pads}) || encode(a || '{SEPARATOR}' || b))))""")
