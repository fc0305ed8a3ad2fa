"""The state folder's rules: owner-only modes, and the project lock that lets one command write at a time."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from cdp.state import LOCK_FILE, Busy, make_private, owner_only, project_lock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_what_is_created_under_owner_only_is_0600_and_0700_and_the_umask_comes_back(tmp_path: Path) -> None:
    before = os.umask(0o022)
    try:
        with owner_only():
            (tmp_path / "state" / "models").mkdir(parents=True)
            (tmp_path / "state" / "models" / "model-1.json").write_text("{}")
        assert os.umask(0o022) == 0o022, "the umask is restored after the block"
    finally:
        os.umask(before)
    assert mode(tmp_path / "state") == mode(tmp_path / "state" / "models") == 0o700
    assert mode(tmp_path / "state" / "models" / "model-1.json") == 0o600


def test_a_state_folder_written_by_an_older_cdp_is_made_private_by_the_next_command(tmp_path: Path) -> None:
    state = tmp_path / ".cdp"
    (state / "quality" / "gx").mkdir(parents=True)
    for path in (state, state / "quality", state / "quality" / "gx"):
        path.chmod(0o755)
    (state / "warehouse.duckdb").write_text("")
    (state / "quality" / "gx" / "result.json").write_text("")
    for path in (state / "warehouse.duckdb", state / "quality" / "gx" / "result.json"):
        path.chmod(0o644)
    with project_lock(state, "run"):
        pass
    found = {p.relative_to(state).as_posix(): oct(mode(p)) for p in [state, *state.rglob("*")]}
    assert found == {".": "0o700", "quality": "0o700", "quality/gx": "0o700", "warehouse.duckdb": "0o600",
                     "quality/gx/result.json": "0o600", LOCK_FILE: "0o600"}
    make_private(state)  # already private: nothing to walk, nothing changes
    assert mode(state) == 0o700


def test_a_second_holder_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    with project_lock(tmp_path, "run"):
        started = time.monotonic()
        with pytest.raises(Busy) as busy, project_lock(tmp_path, "restore", wait=0.3):
            pass
        assert time.monotonic() - started >= 0.3, "it waited before giving up"
    assert str(busy.value) == f"another run (pid {os.getpid()}) is in progress"
    with project_lock(tmp_path, "restore"):  # released when the block ended
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()} restore\n"
    assert (tmp_path / LOCK_FILE).read_text() == "", "nobody holds it"


def test_a_short_holder_is_waited_for(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with project_lock(tmp_path, "export"):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    threading.Timer(0.5, release.set).start()
    with project_lock(tmp_path, "run", wait=5):
        assert release.is_set()
    holder.join()
