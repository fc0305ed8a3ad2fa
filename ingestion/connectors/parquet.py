"""Parquet files: every column cast to text (nested values in DuckDB's text form)."""

from __future__ import annotations

from typing import ClassVar

from cdp.config import ParquetLocation
from ingestion.connectors.files import FileConnector


class ParquetConnector(FileConnector):
    """Reads `path:` (a file or a glob) with DuckDB's Parquet reader."""

    location: ParquetLocation
    location_class = ParquetLocation
    reader: ClassVar[str] = "read_parquet(?)"
    line_based: ClassVar[bool] = False
