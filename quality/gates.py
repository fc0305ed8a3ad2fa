"""One gate per stage: measure the stage in DuckDB (quality.frames), validate it with its suite.

Each gate opens the run's Great Expectations project beside the warehouse, so the suites and
results of one run end up together (quality.validation); `build_run_docs` renders them as Data Docs. Imports Great
Expectations (seconds): quality.checks imports this module inside the checks only.
"""

from __future__ import annotations

import duckdb
import great_expectations as gx
import pandas as pd

from cdp.config import Config
from cdp.schema import staged_table
from ingestion.load import feeds_of
from quality import frames, history, suites
from quality.outcome import Outcome
from quality.report import quality_dir
from quality.validation import build_docs, open_project, validate


class Project:
    """The run's Great Expectations project, opened before any suite is built (suites need an active one)."""

    def __init__(self, cfg: Config, run_id: str) -> None:
        self.context, self.run_id = open_project(quality_dir(cfg), run_id), run_id

    def validate(self, frame: pd.DataFrame, suite: gx.ExpectationSuite, source: str | None,
                 examples: bool = True) -> Outcome:
        return validate(self.context, self.run_id, frame, suite, source, examples)


def build_run_docs(cfg: Config, run_id: str) -> None:
    """Data Docs of every gate run so far in this run (quality.report names the index)."""
    build_docs(Project(cfg, run_id).context)


def raw_gate(con: duckdb.DuckDBPyConnection, cfg: Config, run_id: str, source: str) -> Outcome:
    """Every feed of the source (its records and each interaction feed): columns, keys, row counts.

    Volume is compared with the last load a gate accepted, so retrying a blocked load blocks again
    (to accept a real drop, raise quality.max_row_drop for one run).
    """
    project, outcome, accepted = Project(cfg, run_id), Outcome(), history.previous(con, run_id)
    for feed in feeds_of(source, cfg.sources[source]):
        published, metric = frames.published_rows(con, feed.name), f"rows:{feed.name}"
        previous = int(accepted[metric]) if metric in accepted else None
        suite = suites.raw_suite(feed.table, feed.key, list(feed.columns.values()), published, previous, cfg.quality)
        checked = project.validate(frames.raw_frame(con, feed), suite, source)
        if published is not None and not checked.blocking:
            history.record(con, run_id, {metric: published})
        outcome = outcome.add(checked)
    return outcome


def staged_gate(con: duckdb.DuckDBPyConnection, cfg: Config, run_id: str, source: str) -> Outcome:
    """The source's standardised records: shares of usable emails, phones, birth dates and names.

    The values these expectations find unexpected are personal (emails, phones, birth dates as sent), so
    the results keep counts only unless `quality.pii_examples` asks for examples.
    """
    src, project = cfg.sources[source], Project(cfg, run_id)
    suite = suites.staged_suite(staged_table(source), set(src.fields), cfg.quality)
    return project.validate(frames.staged_frame(con, source, src), suite, source, cfg.quality.pii_examples)


def clusters_gate(con: duckdb.DuckDBPyConnection, cfg: Config, run_id: str) -> Outcome:
    """Customer sizes, and stability against the last run; a run that is not blocked becomes the baseline."""
    project = Project(cfg, run_id)
    suite = suites.clusters_suite(cfg.quality, history.previous(con, run_id))
    outcome = project.validate(frames.clusters_frame(con), suite, None)
    if not outcome.blocking:  # a blocked run publishes nothing, so the next run compares with the last good one
        history.record(con, run_id, history.identity_figures(con))
    return outcome


def customers_gate(con: duckdb.DuckDBPyConnection, cfg: Config, run_id: str) -> Outcome:
    """Every staged record has exactly one customer id."""
    project = Project(cfg, run_id)
    return project.validate(frames.crosswalk_frame(con), suites.crosswalk_suite(), None)


def golden_gate(con: duckdb.DuckDBPyConnection, cfg: Config, run_id: str) -> Outcome:
    """One golden profile per customer, most of them complete."""
    project = Project(cfg, run_id)
    return project.validate(frames.golden_frame(con), suites.golden_suite(cfg.quality), None)
