"""`cdp run`: materialise the whole asset graph in-process, with a progress bar and a summary.

Dagster runs the steps; this module only starts the run, shows progress from Dagster's own event
stream and turns the outcome into an exit code that names any failed blocking check.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import dagster as dg
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cdp.config import Config
from cdp.definitions import build_definitions


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


def _instance() -> dg.DagsterInstance:
    # With DAGSTER_HOME set, runs are recorded where `dagster dev` shows them.
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def run_pipeline(cfg: Config, retrain: bool = False, console: Console | None = None) -> RunOutcome:
    """Run ingest -> standardise -> quality -> identity -> golden -> publish as one Dagster run."""
    console = console or Console(stderr=True)
    job = build_definitions(cfg).resolve_implicit_global_asset_job_def()
    run_config: dict = {"loggers": {"progress": {}}}
    if retrain:
        run_config["ops"] = {"match_pairs": {"config": {"retrain": True}}}
    start = time.perf_counter()
    columns = (TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(job.nodes))
        job = job.with_logger_defs({"progress": _progress_logger(progress, task)})
        result = job.execute_in_process(run_config=run_config, instance=_instance(), raise_on_error=False)
    return _outcome(result, time.perf_counter() - start)


def _outcome(result: dg.ExecuteInProcessResult, seconds: float) -> RunOutcome:
    out = RunOutcome(success=result.success, seconds=seconds)
    for check in result.get_asset_check_evaluations():
        if check.passed:
            continue
        line = f"{check.asset_key.to_user_string()}: {check.check_name}: {check.description or 'failed'}"
        target = out.failed_checks if check.severity == dg.AssetCheckSeverity.ERROR else out.warnings
        target.append(line)
    out.materialized = [m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
                        if m.asset_key is not None]
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE" and event.step_key:
            out.failed_steps.append(event.step_key)
            error = event.step_failure_data.error
            while error and error.cause and error.cls_name == "DagsterExecutionStepExecutionError":
                error = error.cause  # Dagster's wrapper: the user code's own error is its cause
            if error and error.cls_name != "DagsterAssetCheckFailedError":
                out.errors.append(f"{event.step_key}: {error.message.strip()}")  # message starts with the class
    return out
