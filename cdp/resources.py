"""Dagster resources. Every resource is file-backed so `dagster dev` and tests need no credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from cdp.warehouse import open_warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file named by `warehouse:` in cdp.yaml."""

    path: str

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one asset; closed afterwards so other processes can open the file."""
        with open_warehouse(self.path) as con:
            yield con


class ServingResource(dg.ConfigurableResource):
    """The serving store named by `serving:` in cdp.yaml: a SQLAlchemy URL (SQLite by default)."""

    url: str
