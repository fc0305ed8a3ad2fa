"""The data key: from the environment, else generated once (0600); hashes in Python and in DuckDB agree."""

from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from cdp.datakey import ENV_DATA_KEY, KEY_FILE, data_key, install_record_hash, key_id, record_hash


def test_the_environment_key_wins_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_KEY, "from-the-environment")
    assert data_key(tmp_path) == b"from-the-environment"
    assert not (tmp_path / KEY_FILE).exists()


def test_without_one_a_key_is_generated_once_readable_by_its_owner_only(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_KEY, raising=False)
    state = tmp_path / "state"
    first = data_key(state)
    assert len(first) == 64 and data_key(state) == first  # 32 random bytes in hex, read back the same
    assert stat.S_IMODE((state / KEY_FILE).stat().st_mode) == 0o600
    assert data_key(tmp_path / "other") != first


def test_a_record_hash_is_keyed_and_never_the_value() -> None:
    digest = record_hash(b"k1", "sales", "c1")
    assert len(digest) == 64 and "c1" not in digest
    assert digest != record_hash(b"k2", "sales", "c1") != record_hash(b"k1", "sales", "c2")
    assert key_id(b"k1") != key_id(b"k2") and len(key_id(b"k1")) == 12


def test_duckdb_hashes_as_python_does() -> None:
    con = duckdb.connect()
    install_record_hash(con, b"a key")
    rows = [("sales", "c1"), ("finance", "12345"), ("service", "Ünïcode id")]
    con.execute("create table r (source VARCHAR, source_id VARCHAR)")
    con.executemany("insert into r values (?, ?)", rows)
    hashed = con.execute("select cdp_record_hash(source, source_id) from r order by rowid").fetchall()
    assert [h for (h,) in hashed] == [record_hash(b"a key", s, i) for s, i in rows]
    definition = con.execute("select macro_definition from duckdb_functions() "
                             "where function_name = 'cdp_record_hash'").fetchall()
    assert definition and "a key" not in str(definition)  # the key is in a temp table, not in SQL text
