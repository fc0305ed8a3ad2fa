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
