"""Ingestion: connectors, raw load with quarantine, standardisation into `staged`, Dagster assets.

`check_columns(cfg)` is what `cdp run` calls before any work starts.
"""

from __future__ import annotations

from cdp.config import Config, ConfigError
from ingestion.connectors import connector_for
from ingestion.load import feeds_of


def check_columns(cfg: Config) -> None:
    """Raise ConfigError naming source, key and column for every mapped column the data lacks.

    Each source is opened cheaply (a header, a schema, an empty query); a source that cannot be
    opened at all is reported the same way.
    """
    problems = []
    for name, src in cfg.sources.items():
        for feed in feeds_of(name, src):
            connector = connector_for(feed.location)
            try:
                problems += connector.missing(feed.columns)
            except Exception as exc:  # any driver or reader error: report it against the source
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(f"sources.{name}: cannot read {connector.label}: {first}")
    if problems:
        raise ConfigError("; ".join(problems))
