"""What `cdp run` prints when the run ends, and the exit code it returns."""

from __future__ import annotations

import sys

from cdp.config import Config
from cdp.runner import RunOutcome


def print_outcome(cfg: Config, outcome: RunOutcome) -> int:
    """Print the run's summary; 0 on success, 1 naming the failed checks or steps otherwise."""
    for line in outcome.warnings:
        print(f"warning: {line}")
    docs = _data_docs(cfg)
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


def _data_docs(cfg: Config) -> str | None:
    from quality.report import data_docs_index

    path = data_docs_index(cfg)
    return str(path) if path and path.exists() else None
