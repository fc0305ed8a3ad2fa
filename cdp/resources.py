"""Dagster resources. Every resource is file-backed so `dagster dev` and tests need no credentials."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from cdp.warehouse import connect, is_locked

FULL_RUN_TAG = "cdp/full"
"""Run tag: "true" makes every asset redo its whole table (`cdp run --full`, the full schedule); without it a
run redoes only what changed since the last one where it can."""

LOCK_WAIT = 120.0
"""Seconds an asset waits for the warehouse while another process briefly holds it (an erasure's purge)."""


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file named by `warehouse:` in cdp.yaml."""

    path: str
    options: dict[str, str] = {}
    """DuckDB settings every connection opens with (cdp.yaml's `duckdb:`: memory_limit, temp_directory)."""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one asset; closed afterwards so other processes can open the file.

        An erasure through the API may take the file between two assets for its purge: the asset waits
        for it rather than failing the run (DuckDB itself does not wait for a lock).
        """
        con = self._open()
        try:
            yield con
        finally:
            con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                return connect(self.path, options=self.options)
            except duckdb.Error as exc:
                if not is_locked(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


class ServingResource(dg.ConfigurableResource):
    """The serving store named by `serving:` in cdp.yaml: a SQLAlchemy URL (SQLite by default)."""

    url: str


def full_run(context: dg.AssetExecutionContext) -> bool:
    """Whether this run was asked to redo everything (the `cdp/full` tag) rather than only what changed."""
    return context.run.tags.get(FULL_RUN_TAG) == "true"
