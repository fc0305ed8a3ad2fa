"""Runs as an operator meets them: what they leave on disk is owner-only, one run at a time, a run killed
with kill -9 at any point leaves the published version served, and a backup taken while the API serves
comes back whole.

One small demo is run once; each test works on a copy of it (its own warehouse, serving store and models).
The runs killed are forked from a fork server that has imported what a run imports, which keeps the kill
test near 50 s on two cores.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from cdp.cli import EXIT_BUSY, main
from cdp.config import load_config
from cdp.state import project_lock
from cdp.warehouse import open_warehouse
from serving.store import SHADOW
from tests.api.conftest import _wait_for, free_port
from tests.utils.demo import crosswalk, run_demo

ADMIN = "t-admin"
KEYS = f"{ADMIN}:admin"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("runs") / "demo", people=120, seed=5)


@pytest.fixture
def project(published: Path, tmp_path: Path) -> Path:
    """A copy of the published demo: its own state folder (the demo's SQLite silo is read where it is)."""
    return Path(shutil.copytree(published, tmp_path / "demo"))


def cdp(*args: str, **popen: Any) -> subprocess.Popen[bytes]:
    """`cdp ARGS` as a process of its own: its pid is the one the lock file names."""
    return subprocess.Popen([sys.executable, "-m", "cdp.cli", *args], **popen)


# --- files 0600, folders 0700 ----------------------------------------------------------------------

def loose(*roots: Path) -> list[str]:
    """Every file or folder under `roots` that group or others may read, write or enter."""
    paths = [p for root in roots for p in [root, *root.rglob("*")]]
    return [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in paths if stat.S_IMODE(p.stat().st_mode) & 0o077]


def test_everything_a_run_exports_and_backups_write_is_owner_only(published: Path, project: Path) -> None:
    state = published / ".cdp"
    written = {p.relative_to(state).as_posix() for p in state.rglob("*")}
    assert {"warehouse.duckdb", "serving.db", "cdp.lock", "models/current", "quality/report.html",
            "quality/gx/uncommitted/data_docs/local_site/index.html", "dagster/dagster.yaml",
            "dagster/.cdp-instance.lock", "dagster/history/runs.db"} <= written
    exports = project / "exports"
    (exports).mkdir(mode=0o755)
    (exports / "quarantine.csv").write_text("")
    (exports / "quarantine.csv").chmod(0o644)  # an export overwriting a file makes it owner-only too
    for what in ("crosswalk", "quarantine", "attribute_issues"):
        out = exports / "new" / f"{what}.csv"
        assert main(["export", what, "--config", str(project / "cdp.yaml"), "--out", str(out)]) == 0
    assert main(["export", "quarantine", "--config", str(project / "cdp.yaml"),
                 "--out", str(exports / "quarantine.csv")]) == 0
    assert main(["backup", "--config", str(project / "cdp.yaml"), "--out", str(project / "backup")]) == 0
    (exports).chmod(0o700)  # the test's own folder
    assert loose(state, exports, project / "backup") == []
    assert loose(published) == [], "the demo silos and cdp.yaml too"


# --- one run at a time ------------------------------------------------------------------------------

def test_a_second_run_waits_then_says_which_run_is_in_progress(project: Path) -> None:
    """The second run starts once the first holds the project (both have imported by then, neither has
    opened the warehouse): it waits a little, then exits 75 naming the first; the first runs to the end."""
    config, lock = str(project / "cdp.yaml"), project / ".cdp" / "cdp.lock"
    first = cdp("run", "--config", config, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while lock.read_text() != f"{first.pid} run\n":
        assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-m", "cdp.cli", "run", "--config", config], capture_output=True,
                            text=True, timeout=120)
    assert first.poll() is None, "the second gave up while the first was still running"
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err.decode()[-2000:]
    assert second.returncode == EXIT_BUSY
    assert second.stderr == f"cdp: another run (pid {first.pid}) is in progress; try again when it has finished\n"
    assert "customers:" in out.decode() and second.stdout == ""


def test_restore_is_refused_while_a_run_holds_the_lock(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(project / "cdp.yaml")
    assert main(["backup", "--config", config, "--out", str(project / "backup")]) == 0
    stamp = (project / ".cdp" / "warehouse.duckdb").stat().st_mtime_ns
    with project_lock(project / ".cdp", "run"):
        assert main(["restore", "--config", config, str(project / "backup")]) == EXIT_BUSY
    assert f"another run (pid {os.getpid()}) is in progress" in capsys.readouterr().err
    assert (project / ".cdp" / "warehouse.duckdb").stat().st_mtime_ns == stamp


# --- what the API serves ----------------------------------------------------------------------------

def get(base: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, headers={"X-API-Key": ADMIN})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def answers(base: str, ids: list[str]) -> dict[str, tuple[int, Any]]:
    """/health and the profile of each customer id, as the API answers them."""
    return {path: get(base, path) for path in ["/health", *(f"/customers/{i}" for i in ids)]}


@pytest.fixture
def serve(project: Path) -> Iterator[str]:
    """`cdp serve` over the project's serving store, on a free port; its base URL."""
    port, output = free_port(), project / "serve.out"
    with output.open("w") as out:
        server = cdp("serve", "--config", str(project / "cdp.yaml"), "--port", str(port), "--no-access-log",
                     stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "CDP_API_KEYS": KEYS})
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, server, output)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def customer_ids(project: Path, n: int = 25) -> list[str]:
    return sorted({r["customer_id"] for r in crosswalk(project)})[:n]


# --- backup and restore -----------------------------------------------------------------------------

def test_a_backup_taken_while_serving_restores_the_same_customers_and_answers(project: Path, serve: str) -> None:
    config, folder = str(project / "cdp.yaml"), project / "backup"
    ids = customer_ids(project)
    before, records = answers(serve, ids), crosswalk(project)
    assert before["/health"][0] == 200 and all(status == 200 for status, _ in before.values())

    statuses: list[int] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            statuses.append(get(serve, f"/customers/{ids[len(statuses) % len(ids)]}")[0])

    asking = threading.Thread(target=keep_asking)
    asking.start()
    try:
        assert main(["backup", "--config", config, "--out", str(folder)]) == 0
    finally:
        stop.set()
        asking.join()
    assert statuses and set(statuses) == {200}, "the API kept answering during the backup"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["serving_kind"] == "sqlite" and manifest["serving_version"] == before["/health"][1]["version"]
    assert {"review_decisions", "profiles", "publish_log"} <= set(manifest["serving_tables"])

    # destroyed: the warehouse and models gone, the serving store's profiles emptied under the running API
    (project / ".cdp" / "warehouse.duckdb").unlink()
    shutil.rmtree(project / ".cdp" / "models")
    with sqlite3.connect(project / ".cdp" / "serving.db") as con:
        con.execute("delete from profiles")
    con.close()
    assert get(serve, f"/customers/{ids[0]}")[0] == 404

    assert main(["restore", "--config", config, str(folder)]) == 0
    assert answers(serve, ids) == before, "the running API answers as before the backup"
    assert crosswalk(project) == records
    assert (project / ".cdp" / "models" / "current").is_file()
    with open_warehouse(project / ".cdp" / "warehouse.duckdb", read_only=True) as con:
        restored = con.execute("select count(*) from record_customer").fetchall()[0][0]
    assert restored == len(records)
    assert main(["backup", "--config", config, "--out", str(folder)]) == 1, "a backup never overwrites one"


# --- kill -9 ----------------------------------------------------------------------------------------

RUN_IMPORTS = ["cdp.cli", "cdp.runner", "quality.gates", "identity.model"]
"""What a run imports (Dagster, Great Expectations, Splink): seconds per process, paid once by the fork server."""
runs = multiprocessing.get_context("forkserver")
runs.set_forkserver_preload(RUN_IMPORTS)


def _run(config: str) -> None:
    """`cdp run --full`, in a process forked from the warm fork server, printing nothing.

    Full, so that every step does its whole work and lasts long enough to be killed in: with nothing changed,
    an incremental run's steps end before the poller sees them start."""
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    sys.exit(main(["run", "--full", "--config", config]))


def kill_at(project: Path, step: str, then: Callable[[], bool] = lambda: True, seconds: float = 120) -> None:
    """Start `cdp run`, and kill -9 it once Dagster has started `step` and then once `then()` holds."""
    run = runs.Process(target=_run, args=(str(project / "cdp.yaml"),))
    run.start()
    deadline = time.monotonic() + seconds

    def wait(until: Callable[[], bool], pause: float) -> None:
        while not until():
            assert run.is_alive(), f"the run ended (exit {run.exitcode}) before it could be killed at {step}"
            assert time.monotonic() < deadline, f"the run did not reach {step} in {seconds} s"
            time.sleep(pause)

    try:
        with dg.DagsterInstance.from_config(str(project / ".cdp" / "dagster")) as instance:
            earlier = {r.run_id for r in instance.get_runs()}
            wait(lambda: _started(instance, earlier, step), 0.1)  # light polling: the run needs the CPU
        wait(then, 0.001)
    finally:
        os.kill(run.pid, signal.SIGKILL)  # type: ignore[arg-type]
        run.join()


def _started(instance: dg.DagsterInstance, earlier: set[str], step: str) -> bool:
    runs = [r for r in instance.get_runs(limit=3) if r.run_id not in earlier]
    if not runs:
        return False
    starts = instance.get_records_for_run(runs[0].run_id, of_type=dg.DagsterEventType.STEP_START).records
    return any(record.event_log_entry.step_key == step for record in starts)


def shadows(project: Path) -> bool:
    """Whether a publish is half-way: shadow tables loaded, not yet swapped in."""
    with sqlite3.connect(f"file:{project / '.cdp' / 'serving.db'}?mode=ro", uri=True) as con:
        found = con.execute("select count(*) from sqlite_master where name like ?", [f"%{SHADOW}"]).fetchall()
    con.close()
    return bool(found[0][0])


def test_a_run_killed_during_ingestion_identity_or_publish_leaves_the_last_version_served(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app

    monkeypatch.setenv("CDP_API_KEYS", KEYS)
    cfg = load_config(project / "cdp.yaml")
    ids = customer_ids(project)
    quarantine = project / "quarantine.csv"
    assert main(["export", "quarantine", "--config", str(project / "cdp.yaml"), "--out", str(quarantine)]) == 0

    def served() -> dict[str, tuple[int, Any]]:
        with TestClient(create_app(cfg)) as client:
            responses = {p: client.get(p, headers={"X-API-Key": ADMIN}) for p in ["/health", *(f"/customers/{i}"
                                                                                                 for i in ids)]}
        return {p: (r.status_code, r.json()) for p, r in responses.items()}

    before, records, exported = served(), crosswalk(project), quarantine.read_text()
    points: list[tuple[str, Callable[[], bool]]] = [
        ("raw_sales", lambda: True),               # ingestion: the second source landing
        ("match_pairs", lambda: True),             # identity: Splink scoring pairs
        ("published", lambda: shadows(project)),   # publish: shadow tables loaded, not yet swapped in
    ]
    for step, then in points:
        started = time.monotonic()
        kill_at(project, step, then)
        print(f"killed at {step} after {time.monotonic() - started:.1f} s")
        assert served() == before, f"killed at {step}"
        with sqlite3.connect(project / ".cdp" / "serving.db") as con:
            assert con.execute("pragma integrity_check").fetchall() == [("ok",)]
        con.close()
        assert main(["export", "quarantine", "--config", str(project / "cdp.yaml"), "--out", str(quarantine)]) == 0
        assert quarantine.read_text() == exported

    started = time.monotonic()
    assert main(["run", "--config", str(project / "cdp.yaml")]) == 0
    print(f"the next run took {time.monotonic() - started:.1f} s")
    after = served()
    assert after["/health"][1]["version"] == before["/health"][1]["version"] + 1
    assert crosswalk(project) == records, "the same records, the same customer ids"
