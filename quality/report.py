"""Where the last run's quality results live: a Great Expectations project beside the warehouse.

<state_dir>/quality/report.html          the run's report `cdp run` points to: one self-contained page
                                         (no scripts, styles or fonts from the network; quality.page)
<state_dir>/quality/gx/                  suites, validation results (Great Expectations' own layout)
<state_dir>/quality/gx/uncommitted/data_docs/local_site/index.html   Great Expectations' Data Docs, linked
                                         from the report (they load Bootstrap and jQuery from CDNs)
<state_dir>/quality/run_id               the Dagster run those results belong to

Cheap to import: no Great Expectations here (`cdp run`'s summary calls `report_path`).
"""

from __future__ import annotations

from pathlib import Path

from cdp.config import Config

GX_FOLDER = "gx"
RUN_MARKER = "run_id"
INDEX = Path("report.html")
GX_DOCS = Path(GX_FOLDER, "uncommitted", "data_docs", "local_site", "index.html")


def quality_dir(cfg: Config) -> Path:
    """The folder holding the quality project, beside the warehouse."""
    return cfg.state_dir / "quality"


def report_path(cfg: Config) -> Path | None:
    """The last run's quality report, or None before any run has finished its checks."""
    index = quality_dir(cfg) / INDEX
    return index if index.exists() else None
