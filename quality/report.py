"""Where the last run's quality results live: a Great Expectations project beside the warehouse.

<state_dir>/quality/gx/                  suites, validation results (Great Expectations' own layout)
<state_dir>/quality/gx/uncommitted/data_docs/local_site/index.html   the Data Docs `cdp run` points to
<state_dir>/quality/run_id               the Dagster run those results belong to

Cheap to import: no Great Expectations here (`cdp run`'s summary calls `data_docs_index`).
"""

from __future__ import annotations

from pathlib import Path

from cdp.config import Config

GX_FOLDER = "gx"
RUN_MARKER = "run_id"
INDEX = Path(GX_FOLDER, "uncommitted", "data_docs", "local_site", "index.html")


def quality_dir(cfg: Config) -> Path:
    """The folder holding the quality project, beside the warehouse."""
    return cfg.state_dir / "quality"


def data_docs_index(cfg: Config) -> Path | None:
    """index.html of the last run's Data Docs, or None before any check has run."""
    index = quality_dir(cfg) / INDEX
    return index if index.exists() else None
