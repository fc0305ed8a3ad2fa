"""A version published encrypted: its personal values sealed (cdp.sealing) as they stream into the store.

The warehouse computes the tables as always; the JSON columns of tables.SEALED are sealed batch by batch on
their way to the store (in the read-ahead thread, beside the writer), and the search keys of the kinds
holding an `api.pii` attribute are hashed in DuckDB's SQL (serving.build).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa
from sqlalchemy import Table

from cdp.sealing import Sealer, place_of
from serving.tables import SEALED, SEARCH_ATTRIBUTES


@dataclass(frozen=True)
class Sealing:
    """How a version is encrypted: the sealer, and the search key kinds stored as keyed hashes."""

    sealer: Sealer
    hashed: frozenset[str]

    @classmethod
    def of(cls, sealer: Sealer | None, pii: Iterable[str]) -> Sealing | None:
        """The sealing of the personal attributes `pii` (cdp.yaml's api.pii); None without a sealer."""
        return cls(sealer, hashed_kinds(pii)) if sealer is not None else None

    @property
    def hashed_search(self) -> str:
        """publish_log.hashed_search: the hashed kinds, comma-separated."""
        return ",".join(sorted(self.hashed))


def hashed_kinds(pii: Iterable[str]) -> frozenset[str]:
    """The search key kinds that hold one of the `pii` attributes."""
    personal = set(pii)
    return frozenset(kind for kind, attributes in SEARCH_ATTRIBUTES.items() if attributes & personal)


def seal_batches(table: Table, batches: Iterable[pa.RecordBatch], sealer: Sealer) -> Iterator[pa.RecordBatch]:
    """`batches` of `table` with their SEALED columns sealed, each value bound to its row key (as is when the
    table holds none)."""
    if table.name not in SEALED:
        yield from batches
        return
    key, sealed = SEALED[table.name]
    for batch in batches:
        rows = list(zip(*(batch.column(name).to_pylist() for name in key), strict=True))
        columns = [_sealed(batch.column(name), rows, sealer, table.name, name) if name in sealed
                   else batch.column(name) for name in batch.schema.names]
        yield pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _sealed(column: pa.Array, rows: list[tuple[object, ...]], sealer: Sealer, table: str, name: str) -> pa.Array:
    seal = sealer.seal
    return pa.array([None if text is None else seal(text, place_of(table, name, *row))
                     for text, row in zip(column.to_pylist(), rows, strict=True)], pa.string())
