"""The one base every connector kind implements, after Splink's `DatabaseAPI`.

A connector knows three things about its kind: a short label for messages, how to list the
source's columns cheaply, and how to land every row in a DuckDB table. The shared steps built on
them (checking a config's columns, landing with the bookkeeping columns) are `@final`.

A landed table holds, in source order:
    _row_number BIGINT  position of the record in this load, counting unreadable records (1-based)
    _error VARCHAR      why the record could not be read (NULL for a readable one)
    _line VARCHAR       the unreadable record's text as the reader saw it
    <source columns>    every column as VARCHAR, NULL on unreadable records
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, final

import duckdb

from cdp.config import ConfigError, Location
from ingestion.duck import columns_of

LANDING_META = ("_row_number", "_error", "_line")


class Connector(ABC):
    """Reads one source location into DuckDB, every column as VARCHAR."""

    location_class: ClassVar[type[Location] | None] = None
    """The config class this connector reads; subclasses register themselves under it."""
    registry: ClassVar[dict[type[Location], type[Connector]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.location_class is not None:
            Connector.registry[cls.location_class] = cls

    def __init__(self, location: Location) -> None:
        self.location = location

    @property
    @abstractmethod
    def label(self) -> str:
        """Short name of what is read, for messages: the file name, or the table."""

    @abstractmethod
    def columns(self) -> list[str]:
        """The source's column names, read cheaply (a header, a schema or an empty query)."""

    @abstractmethod
    def _land(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        """Create temp table `table` in the shape described in this module's docstring."""

    @final
    def missing(self, needed: dict[str, str]) -> list[str]:
        """For each config key whose column the source lacks, a message naming key and column."""
        return describe_missing(needed, self.columns(), self.label)

    @final
    def land(self, con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
        """Land every record of the source in temp table `table`; return the source's column names."""
        self._land(con, table)
        return [c for c in columns_of(con, table) if c not in LANDING_META]


def describe_missing(needed: dict[str, str], have: list[str], label: str) -> list[str]:
    """Messages for the config keys (key -> column) whose column is not among `have`."""
    return [f"{key}: column {column!r} not found in {label} (columns: {', '.join(have)})"
            for key, column in needed.items() if column not in have]


def connector_for(location: Location) -> Connector:
    """The connector reading `location`, picked by its config class."""
    for cls in type(location).__mro__:
        if cls in Connector.registry:
            return Connector.registry[cls](location)
    raise ConfigError(f"connector: no connector reads {location.connector!r}")
