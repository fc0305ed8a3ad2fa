"""The warehouse resource waits for a file another process holds briefly (an erasure's purge) rather than fail."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cdp.resources import WarehouseResource
from cdp.warehouse import connect, is_locked

HOLD = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
        "time.sleep(float(sys.argv[2]))")


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the warehouse for `seconds`, once it has printed 'ready'."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_an_asset_waits_for_a_warehouse_held_briefly(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    holder = hold(path, 1.5)
    try:
        with pytest.raises(duckdb.Error) as refused:
            connect(path)
        assert is_locked(refused.value)
        start = time.monotonic()
        with WarehouseResource(path=str(path)).connect() as con:
            assert con.execute("select 1").fetchall() == [(1,)]
        assert time.monotonic() - start > 0.5
    finally:
        holder.kill()
        holder.wait()


def test_every_warehouse_connection_opens_with_the_memory_settings(tmp_path: Path) -> None:
    options = {"memory_limit": "1GB", "temp_directory": str(tmp_path / "spill")}
    with WarehouseResource(path=str(tmp_path / "w.duckdb"), options=options).connect() as con:
        limit, spill = con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')").fetchall()[0]
    assert spill == str(tmp_path / "spill")
    assert limit.replace(" ", "") in ("1GB", "953.6MiB")  # DuckDB reports the limit in its own units
    with connect(tmp_path / "w.duckdb", read_only=True, options=options) as con:
        assert con.execute("select current_setting('temp_directory')").fetchall()[0][0] == str(tmp_path / "spill")
    with connect(tmp_path / "w.duckdb") as con:  # without options: DuckDB's default, beside the warehouse file
        default = con.execute("select current_setting('temp_directory')").fetchall()[0][0]
    assert default == f"{tmp_path / 'w.duckdb'}.tmp"
