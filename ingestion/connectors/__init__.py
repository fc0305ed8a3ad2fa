"""Connectors: one small class per kind of source behind `Connector`, picked by the config class.

Importing this package registers every kind; `connector_for(location)` returns the one to use.
"""

from ingestion.connectors.base import LANDING_META, Connector, connector_for, describe_missing
from ingestion.connectors.csv import CsvConnector
from ingestion.connectors.jsonl import JsonlConnector
from ingestion.connectors.parquet import ParquetConnector
from ingestion.connectors.sql import SqlConnector

__all__ = [
    "LANDING_META", "Connector", "CsvConnector", "JsonlConnector", "ParquetConnector", "SqlConnector",
    "connector_for", "describe_missing",
]
