"""What `cdp run` prints when the run ends, and the exit code it returns."""

from __future__ import annotations

import sys
from typing import Any

from cdp.config import Config
from cdp.runner import RunOutcome
from cdp.schema import feed_name, raw_table


def print_outcome(cfg: Config, outcome: RunOutcome) -> int:
    """Print the run's summary; 0 on success, 1 naming the failed checks or steps otherwise."""
    for line in [*load_lines(cfg, outcome.metadata), *customer_lines(outcome.metadata)]:
        print(line)
    for line in outcome.warnings:
        print(f"warning: {line}")
    docs = _quality_report(cfg)
    if docs:
        print(f"quality report: {docs}")
    if outcome.success:
        print(f"cdp run: ok in {outcome.seconds:.1f}s, {len(outcome.materialized)} assets materialised, "
              f"{len(outcome.warnings)} warning(s)")
        return 0
    for line in outcome.failed_checks:
        print(f"blocking check failed: {line}", file=sys.stderr)
    for line in outcome.errors:
        print(f"step failed: {line}", file=sys.stderr)
    print(f"cdp run: FAILED after {outcome.seconds:.1f}s; nothing was published "
          f"(failed: {', '.join(outcome.failed_steps)})", file=sys.stderr)
    return 1


def load_lines(cfg: Config, metadata: dict[str, dict[str, Any]]) -> list[str]:
    """Per source loaded this run: rows read and quarantined, for its records and each interaction feed.

    E.g. "source sales: 2,010 rows loaded, 10 quarantined; orders: 5,000 rows loaded, 0 quarantined"; an
    incremental load adds its new, changed and deleted rows, a feed whose files did not change says so.
    """
    lines = []
    for name, src in cfg.sources.items():
        rows = metadata.get(raw_table(name))  # the raw asset, named after its records' table
        if rows is None:  # not loaded: the run stopped before it
            continue
        feeds = [(name, feed_name(name)), *((i.name, feed_name(name, i.name)) for i in src.interactions)]
        lines.append("source " + "; ".join(_feed_line(label, feed, rows) for label, feed in feeds
                                           if f"{feed}.rows_in" in rows))
    return lines


def _feed_line(label: str, feed: str, rows: dict[str, Any]) -> str:
    mode = rows.get(f"{feed}.mode", "full")  # ingestion.load's modes
    if mode == "skipped":
        return f"{label}: unchanged, not read"
    line = f"{label}: {rows[f'{feed}.rows_in']:,} rows loaded, {rows[f'{feed}.rows_quarantined']:,} quarantined"
    if mode == "full":
        return line
    if mode == "appended":  # only the appended rows were read: nothing else changed
        return f"{line} (appended to the files: {rows[f'{feed}.rows_new']:,} new)"
    return (f"{line} ({rows[f'{feed}.rows_new']:,} new, {rows[f'{feed}.rows_changed']:,} changed, "
            f"{rows[f'{feed}.rows_vanished']:,} deleted)")


def customer_lines(metadata: dict[str, dict[str, Any]]) -> list[str]:
    """How many customers the records resolved into, once ids were assigned this run."""
    ids = metadata.get("customers")
    if ids is None:
        return []
    return [f"customers: {ids['customers']:,} from {ids['records']:,} records"]


def _quality_report(cfg: Config) -> str | None:
    from quality.report import report_path

    path = report_path(cfg)
    return str(path) if path else None
