"""Ingestion: connectors, raw load with quarantine, standardisation into `staged`, Dagster assets.

`check_columns(cfg)` is what `cdp run` calls before any work starts.
"""

from __future__ import annotations

from cdp.config import Config, ConfigError, Location
from ingestion.connectors import connector_for


def _needed(name: str, cfg: Config) -> list[tuple[Location, dict[str, str]]]:
    """Per location of the source, config key -> the column it names."""
    src = cfg.sources[name]
    where = f"sources.{name}"
    records = {f"{where}.key": src.key} | {f"{where}.fields.{a}": c for a, c in src.fields.items()}
    if src.updated_at:
        records[f"{where}.updated_at"] = src.updated_at
    needed = [(src.location, records)]
    for feed in src.interactions:
        at = f"{where}.interactions.{feed.name}"
        columns = {f"{at}.key": feed.key, f"{at}.record_key": feed.record_key, f"{at}.at": feed.at}
        columns |= {f"{at}.amount": feed.amount} if feed.amount else {}
        columns |= {f"{at}.attributes.{c}": c for c in feed.attributes}
        needed.append((feed.location, columns))
    return needed


def check_columns(cfg: Config) -> None:
    """Raise ConfigError naming source, key and column for every mapped column the data lacks.

    Each source is opened cheaply (a header, a schema, an empty query); a source that cannot be
    opened at all is reported the same way.
    """
    problems = []
    for name in cfg.sources:
        for location, columns in _needed(name, cfg):
            connector = connector_for(location)
            try:
                problems += connector.missing(columns)
            except Exception as exc:  # any driver or reader error: report it against the source
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                problems.append(f"sources.{name}: cannot read {connector.label}: {first}")
    if problems:
        raise ConfigError("; ".join(problems))
