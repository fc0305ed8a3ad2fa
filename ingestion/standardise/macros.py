"""SQL macros of the standardisers, and one in-memory DuckDB to run them on single values.

Each attribute module registers its macros here. Ingestion installs them on the warehouse
connection and applies them set-based; the per-value functions (used by the API to normalise
search input) run the very same macros on a private in-memory connection, so a query value is
normalised exactly as ingestion normalised the data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

import duckdb

from ingestion.duck import literal

_MACROS: list[str | Callable[[], str]] = []
_LOCK = threading.Lock()
_SCALAR: duckdb.DuckDBPyConnection | None = None


def register(*statements: str | Callable[[], str]) -> None:
    """Add `create or replace temp macro ...` statements, in dependency order; a callable gives its statement
    each time the macros are installed (a statement whose data is slow to import, built only when needed)."""
    _MACROS.extend(statements)


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create every registered macro on `con`, once (temp macros live as long as the connection)."""
    marker = f"cdp_installed_{len(_MACROS)}"  # a later import may register more
    if con.execute("select 1 from duckdb_functions() where function_name = ?", [marker]).fetchall():
        return
    for statement in _MACROS:
        con.execute(statement() if callable(statement) else statement)
    con.execute(f"create or replace temp macro {marker}() as true")


def evaluate(expression: str, *values: Any) -> Any:
    """The value of one SQL expression over `?` parameters, with the macros installed."""
    global _SCALAR
    with _LOCK:  # one connection, used by one thread at a time (the API serves from several)
        if _SCALAR is None:
            _SCALAR = duckdb.connect()
            install(_SCALAR)
        return _SCALAR.execute(f"select {expression}", list(values)).fetchall()[0][0]


def sql_list(values: Iterable[str]) -> str:
    """A DuckDB list literal of strings."""
    return "[" + ", ".join(literal(v) for v in values) + "]"


def sql_map(pairs: dict[str, str]) -> str:
    """A DuckDB MAP literal from string to string."""
    return "MAP {" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in pairs.items()) + "}"


def chain(source: str, steps: list[str]) -> str:
    """Nest select-lists, each over the previous one's columns, starting from `source`.

    A long derivation reads as steps, and every intermediate value is computed once per row
    (a macro referring to its argument twice would recompute it).
    """
    sql = source
    for i, step in enumerate(steps):
        sql = f"(select {step} from {sql} as s{i})"
    return sql
