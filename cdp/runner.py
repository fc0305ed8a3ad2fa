"""`cdp run`: materialise the whole asset graph in-process, with a progress bar and a summary.

Dagster runs the steps; this module only starts the run, shows progress from Dagster's own event
stream and collects what the summary prints: failed checks and steps, and each asset's metadata.
The run is recorded in the project's Dagster instance (`dagster_home`), where `dagster dev` shows it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy.pool import Pool

from cdp.config import Config
from cdp.definitions import build_definitions
from cdp.resources import FULL_RUN_TAG
from identity.labels import Labels


@dataclass
class RunOutcome:
    """What `cdp run` prints and exits with."""

    success: bool
    seconds: float
    failed_checks: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per materialised asset, its metadata values (raw_<source>: rows per feed; customers: customers, records)."""


class _ProgressHandler(logging.Handler):
    """Advances the bar on each finished step, reading the Dagster event attached to a log record."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        super().__init__()
        self.progress, self.task = progress, task

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        if event is None:
            return
        if event.event_type_value == "STEP_START":
            self.progress.update(self.task, description=event.step_key)
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            self.progress.advance(self.task)


def _progress_logger(progress: Progress, task: TaskID) -> dg.LoggerDefinition:
    @dg.logger
    def progress_logger(_: dg.InitLoggerContext) -> logging.Logger:
        log = logging.Logger("cdp.run", level=logging.DEBUG)
        log.addHandler(_ProgressHandler(progress, task))
        return log

    return progress_logger


INSTANCE_YAML = """\
# The Dagster instance of this cdp project, written by `cdp run`: runs and asset materialisations
# (SQLite files beside this one). `cdp dagster` opens it in Dagster's UI.
# Telemetry is off so a run neither prints Dagster's banner nor writes to ~/.dagster; set `enabled: true` to share it.
telemetry:
  enabled: false
"""


INSTANCE_LOCK = ".cdp-instance.lock"


def dagster_home(cfg: Config) -> Path:
    """The Dagster instance runs are recorded in: $DAGSTER_HOME, else `dagster/` in the config's state folder."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else cfg.state_dir / "dagster"


def prepare_instance(cfg: Config) -> Path:
    """The folder of the run's Dagster instance, its storage created; the project's own gets a dagster.yaml."""
    home = dagster_home(cfg)
    home.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DAGSTER_HOME") and not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text(INSTANCE_YAML)
    # Dagster creates and stamps its SQLite databases when an instance first opens a folder; two
    # processes doing so at once leave two migration heads and an instance that no longer opens.
    with (home / INSTANCE_LOCK).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        dg.DagsterInstance.from_config(str(home)).dispose()
    return home


_UNSYNCED: set[str] = set()
"""Run history folders whose SQLite files this process writes without waiting for the disk (`unsynced_history`)."""


def unsynced_history(home: Path) -> None:
    """Let this process's SQLite connections to the run history in `home` commit without waiting for the disk.

    Dagster opens a connection per event and commits it (a few hundred per run), and each commit waited ~15 ms
    for the disk here: seconds of every run, most of a small one. Without the wait an OS crash or power cut
    during a run may damage the run history (never the warehouse or the serving store); deleting `home`
    then starts it afresh.
    """
    if not _UNSYNCED:
        sa.event.listen(Pool, "connect", _no_wait)
    _UNSYNCED.add(str(home.resolve()) + os.sep)


def _no_wait(connection: object, _: object) -> None:
    if isinstance(connection, sqlite3.Connection) and any(
            str(file).startswith(tuple(_UNSYNCED)) for _, _, file in connection.execute("pragma database_list")):
        connection.execute("pragma synchronous = off")


def run_pipeline(cfg: Config, retrain: bool = False, with_labels: bool = False, full: bool = False) -> RunOutcome:
    """Run ingest -> standardise -> quality -> identity -> golden -> publish as one Dagster run.

    `with_labels`: refine the model by the stewards' decisions (call `import_labels` first, so the latest count).
    `full`: redo every table, not only what changed since the last run (the `cdp/full` run tag).
    """
    job = build_definitions(cfg).resolve_implicit_global_asset_job_def()
    run_config: dict = {"loggers": {"progress": {}}}
    if retrain or with_labels:
        run_config["ops"] = {"match_pairs": {"config": {"retrain": retrain, "with_labels": with_labels}}}
    start = time.perf_counter()
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with _terminal() as console, Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(job.nodes))
        job = job.with_logger_defs({"progress": _progress_logger(progress, task)})
        home = prepare_instance(cfg)
        unsynced_history(home)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                            tags={FULL_RUN_TAG: "true"} if full else None)
    return collect_outcome(result, time.perf_counter() - start)


def import_labels(cfg: Config) -> Labels:
    """The stewards' decisions brought into the warehouse now, as labels to learn from.

    A run imports them only after matching (`steward_decisions` follows `match_pairs`), so the decisions made
    since the last run would otherwise teach the model one run late. Importing twice changes nothing.
    """
    from cdp.warehouse import open_warehouse
    from identity.labels import read_labels
    from identity.review import import_decisions
    from serving.decisions import decisions

    if not cfg.warehouse_path.exists():  # never run: nothing was staged, nothing can be labelled
        return Labels.none()
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        import_decisions(con, decisions(cfg.serving))
        return read_labels(con)


@contextmanager
def _terminal() -> Iterator[Console]:
    """A console for the progress bar on the terminal's stderr.

    While steps run, Dagster's compute-log capture pipes stderr through a tee into the instance's
    log files: a console on sys.stderr would then no longer be a terminal and the bar would vanish.
    A copy of the descriptor taken before the run stays the terminal.
    """
    if not sys.stderr.isatty():
        yield Console(stderr=True)
        return
    with os.fdopen(os.dup(sys.stderr.fileno()), "w") as tty:
        yield Console(file=tty)


def collect_outcome(result: dg.ExecuteInProcessResult, seconds: float) -> RunOutcome:
    """What the summary needs from a finished run: checks not passed, failed steps, assets and their metadata."""
    out = RunOutcome(success=result.success, seconds=seconds)
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        line = f"{check.asset_key.to_user_string()}: {check.check_name}: {check.description or 'failed'}"
        target = out.failed_checks if check.severity == dg.AssetCheckSeverity.ERROR else out.warnings
        target.append(line)
    for event in result.get_asset_materialization_events():
        key = event.materialization.asset_key.to_user_string()
        out.materialized.append(key)
        out.metadata[key] = {label: value.value for label, value in event.materialization.metadata.items()}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_key:
            out.failed_steps.append(event.step_key)
            error = event.step_failure_data.error
            while error and error.cause and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause  # Dagster's wrapper: the user code's own error is its cause
            if error and error.cls_name != "DagsterAssetCheckFailedError":
                out.errors.append(f"{event.step_key}: {error.message.strip()}")  # message starts with the class
    return out
