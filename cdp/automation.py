"""What starts runs under Dagster's daemon (`dagster dev`): a sensor for changed sources, a schedule for full runs.

Both launch `cdp_run`, a job over every asset and check, the same graph `cdp run` executes:
- `cdp_source_changes` (sensor, every minute) launches an incremental run when a file source's files or a
  watermarked SQL source's high-water mark moved since its last look (ingestion.watch); its cursor keeps
  the marks it last saw. It waits while a run of the job is under way (one writer at a time on DuckDB).
- `cdp_full_daily` (schedule, 02:00 UTC) launches the full run (`cdp/full` tag), which also sees rows
  deleted from watermarked SQL sources.

Both start STOPPED: each launches runs that write the warehouse, which a user running `cdp run` by hand
would not expect from merely opening `dagster dev`, and the full run takes minutes of every core at a
million records; turning one on is one click in the UI (or `dagster sensor start` / `dagster schedule start`).
"""

from __future__ import annotations

import json

import dagster as dg

from cdp.config import Config
from cdp.resources import FULL_RUN_TAG
from ingestion.state import digest
from ingestion.watch import source_marks

JOB = "cdp_run"
CHANGED_TAG = "cdp/changed"
"""Run tag of a sensor's run: the feeds whose mark moved."""
BUSY = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED]


def run_job() -> dg.UnresolvedAssetJobDefinition:
    """Every asset and its checks, as one run (what `cdp run` runs)."""
    return dg.define_asset_job(JOB, selection=dg.AssetSelection.all(),
                               description="The whole graph: ingest, standardise, quality, identity, publish.")


def changes_sensor(cfg: Config, job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(name="cdp_source_changes", job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description="Launches an incremental run when a file source changed or a watermarked SQL source "
                           "has rows past its high-water mark.")
    def source_changes(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if context.instance.get_runs(dg.RunsFilter(job_name=JOB, statuses=BUSY), limit=1):
            return dg.SkipReason("a run is under way; its sources are looked at again after it")
        seen, marks = json.loads(context.cursor) if context.cursor else {}, source_marks(cfg)
        changed = sorted(feed for feed, mark in marks.items() if seen.get(feed) != mark)
        context.update_cursor(json.dumps(marks))
        if not changed:
            return dg.SkipReason("no watched source changed")
        return dg.RunRequest(run_key=digest(marks), tags={CHANGED_TAG: ",".join(changed)})

    return source_changes


def full_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(name="cdp_full_daily", job=job, cron_schedule="0 2 * * *", execution_timezone="UTC",
                                 tags={FULL_RUN_TAG: "true"}, default_status=dg.DefaultScheduleStatus.STOPPED,
                                 description="The full run (cdp run --full) every day at 02:00 UTC.")


def build_defs(cfg: Config) -> dg.Definitions:
    """The job over all assets, the change sensor and the daily full schedule."""
    job = run_job()
    return dg.Definitions(jobs=[job], sensors=[changes_sensor(cfg, job)], schedules=[full_schedule(job)])
