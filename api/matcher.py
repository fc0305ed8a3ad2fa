"""POST /resolve's engine: one record standardised, blocked and scored against the published records.

The published records (serving table match_records) are indexed in memory by the model's blocking
rules (identity.resolve.Resolver), once per published version: the first /resolve after a publish
builds the new index while the others keep answering from the previous one (which keeps its own
copy of the records: read from the store per request, a candidate could already be the next
version's). The index is built in the API process, not written by the publish: a publish at ~1M
records already takes minutes, and an index table there would tie the store's schema to the model's
blocking rules; reading match_records and hashing its keys in DuckDB takes seconds (bench/README.md).

The model is the one the published version was resolved with (publish_log.model): a `cdp train` whose run
stopped before publishing (a failed quality check) leaves a newer model current, and /resolve must still
score pairs as the published customers were scored. A version published before the store recorded its model
(or whose model file is gone) is scored with the model in use.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from api.reader import ServingReader
from cdp.sealing import PREFIX, Sealer, unseal
from identity.model import ModelStore
from identity.resolve import Resolver, Score, model_input
from ingestion.standardise import fast
from serving.tables import MATCH_COLUMNS, match_records, publish_log

RECHECK_SECONDS = 1.0
"""How often the published version is looked up: a publish shows in /resolve within this."""


class NoModel(LookupError):
    """There is no match model to score with, or nothing published to match against."""


@dataclass(frozen=True)
class Match:
    """One customer a record resolves to."""

    customer_id: str
    source: str
    source_id: str
    score: Score


def _source_key(record_id: str) -> tuple[str, str]:
    """(source, source_id) of a record id '<source>:<source_id>'."""
    source, _, source_id = record_id.partition(":")
    return source, source_id


class Matcher:
    """The index of the current published version, rebuilt when a publish changes it."""

    def __init__(self, reader: ServingReader, models: Path) -> None:
        self.reader, self.engine, self.models = reader, reader.engine, ModelStore(models)
        self._lock = threading.Lock()
        self._resolver: Resolver | None = None
        self._version: int | None = None
        self._checked = 0.0

    def standardise(self, values: dict[str, str | None], country: str) -> dict[str, Any]:
        """The record as staging writes it (ValueError "<field>: why" for a value ingestion would not keep)."""
        return dataclasses.asdict(fast.stage(values, country))

    def resolve(self, staged: dict[str, Any], limit: int, resolver: Resolver | None = None) -> list[Match]:
        """The best `limit` customers for a standardised record, best first (`resolver`: `ready()`'s, if taken).

        A customer erased since the publish (DELETE /customers/{id} changes the store, not its version) is
        left out: the index still holds its records until the next publish.
        """
        found = (resolver or self.current()).resolve(model_input(staged))
        live = (m for m in found if self.reader.exists(m[0]))
        return [Match(customer, *_source_key(record_id), score) for customer, record_id, score in islice(live, limit)]

    def ready(self) -> Resolver | None:
        """The index, when it was checked against the published version within RECHECK_SECONDS; else None
        (then `current()` checks, and builds if need be: it may read the store and take seconds)."""
        fresh = self._resolver is not None and time.monotonic() - self._checked < RECHECK_SECONDS
        return self._resolver if fresh else None

    def current(self) -> Resolver:
        """The index of the published version, checked now and built if it is not that version's."""
        if (resolver := self.ready()) is not None:
            return resolver
        # One build at a time. While it runs, the others answer from the previous version's index, if there is one
        # (a publish swaps versions atomically, so that index is the one a moment ago), else wait for it.
        if not self._lock.acquire(blocking=self._resolver is None):
            assert self._resolver is not None
            return self._resolver
        try:
            if (resolver := self.ready()) is not None:
                return resolver  # another request has just checked
            version, model = self._published()
            if self._resolver is None or version != self._version:
                self._resolver, self._version = self._build(model), version
            self._checked = time.monotonic()
            return self._resolver
        finally:
            self._lock.release()

    def _published(self) -> tuple[int, str | None]:
        """(the published version, the model file it was resolved with, None when the store does not say)."""
        log = publish_log.c
        latest = sa.select(sa.func.max(log.version)).scalar_subquery()
        with self.engine.connect() as conn:
            try:
                row = conn.execute(sa.select(log.version, log.model).where(log.version == latest)).first()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError):  # before migration 0010 (the API never migrates)
                conn.rollback()
                row = conn.execute(sa.select(sa.func.max(log.version), sa.null())).first()
        if row is None or row[0] is None:
            raise NoModel("nothing published yet: run `cdp run` first")
        return int(row[0]), row[1]

    def _build(self, model: str | None) -> Resolver:
        try:
            found = self.models.load(model)
        except FileNotFoundError:
            raise NoModel(f"no trained match model in {self.models.folder}: run `cdp run` first") from None
        return Resolver(published_records(self.engine, self.reader.sealer), found)


def published_records(engine: sa.Engine, sealer: Sealer | None, chunk: int = 100_000) -> pa.Table:
    """match_records as Arrow columns (record_id, customer_id, MATCH_COLUMNS), opened when sealed.

    Read in chunks, each turned into columns at once, so a million records never sit as Python tuples
    together; a column of a chunk is unsealed value by value only when one of its values is sealed.
    """
    names = ["record_id", "customer_id", *MATCH_COLUMNS]
    parts = []
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=chunk).execute(sa.select(*(match_records.c[n] for n in names)))
        for rows in result.partitions():
            columns = dict(zip(names, (pa.array(c, pa.string()) for c in zip(*rows, strict=True)), strict=True))
            for name in MATCH_COLUMNS:
                if pc.any(pc.starts_with(columns[name], PREFIX)).as_py():
                    columns[name] = pa.array([None if v is None else unseal(v, sealer, match_records.name, name, r)
                                              for v, r in zip(columns[name].to_pylist(),
                                                              columns["record_id"].to_pylist(), strict=True)],
                                             pa.string())
            parts.append(pa.table(columns))
    return pa.concat_tables(parts) if parts else pa.table({n: pa.array([], pa.string()) for n in names})
