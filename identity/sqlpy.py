"""The model's SQL conditions (comparison levels, blocking rules) compiled into Python, for one pair at a time.

Scoring a single record on the request path cannot afford a DuckDB round trip, so each condition
is parsed once (sqlglot, DuckDB dialect) into nested closures over a row mapping. NULL is None
and logic is SQL's three-valued logic; the functions are DuckDB's, down to the float rounding of
jaro_winkler_similarity (DuckDB adds the prefix boost with one fused multiply-add). A function
this module does not know fails at compile time, naming the SQL, never at scoring.
tests/identity/test_resolve.py compares every level's verdict with Splink's own gamma values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import lru_cache
from typing import Any, cast

import jellyfish
import sqlglot
from sqlglot import exp


class Untranslatable(ValueError):
    """SQL this module has no Python for (a function or construct the model's settings do not use today)."""


Row = Mapping[str, Any]
Compiled = Callable[[Row], Any]


@lru_cache(maxsize=1 << 16)
def jaro_winkler(a: str, b: str) -> float:
    """DuckDB's jaro_winkler_similarity: Jaro plus the common prefix (up to 4) boost when Jaro > 0.7."""
    sim = jellyfish.jaro_similarity(a, b) if a and b else 0.0
    prefix = next((i for i, (x, y) in enumerate(zip(a[:4], b[:4], strict=False)) if x != y), min(len(a), len(b), 4))
    if sim <= 0.7 or not prefix:
        return sim
    # fma(prefix * 0.1, 1 - sim, sim), rounded once as DuckDB's compiled code rounds it
    return float(Fraction(prefix * 0.1) * Fraction(1.0 - sim) + Fraction(sim))


def _split_part(text: str, delimiter: str, index: int) -> str:
    parts = text.split(delimiter)
    return parts[index - 1] if 1 <= index <= len(parts) else ""


def _substr(text: str, start: int, length: int | None = None) -> str:
    begin = max(start - 1, 0)
    return text[begin:] if length is None else text[begin:start - 1 + length]


def _strict(fn: Callable[..., Any]) -> Callable[[list[Compiled]], Compiled]:
    """A function that is NULL when any argument is NULL."""
    def build(args: list[Compiled]) -> Compiled:
        if len(args) == 2:  # most conditions (a = b, f(a, b) >= x): unrolled, this is the scoring's inner loop
            first, second = args

            def binary(row: Row) -> Any:
                a = first(row)
                if a is None:
                    return None
                b = second(row)
                return None if b is None else fn(a, b)
            return binary

        def run(row: Row) -> Any:
            values = [a(row) for a in args]
            return None if any(v is None for v in values) else fn(*values)
        return run
    return build


def _and(args: list[Compiled]) -> Compiled:
    left, right = args

    def run(row: Row) -> bool | None:
        a = left(row)
        if a is False:
            return False
        b = right(row)
        return False if b is False else None if a is None or b is None else True
    return run


def _or(args: list[Compiled]) -> Compiled:
    left, right = args

    def run(row: Row) -> bool | None:
        a = left(row)
        if a is True:
            return True
        b = right(row)
        return True if b is True else None if a is None or b is None else False
    return run


def _coalesce(args: list[Compiled]) -> Compiled:
    return lambda row: next((v for v in (a(row) for a in args) if v is not None), None)


def _least(args: list[Compiled]) -> Compiled:  # DuckDB's least skips NULLs
    return lambda row: min((v for v in (a(row) for a in args) if v is not None), default=None)


def _regexp_replace(args: list[Compiled], flags: str) -> Compiled:
    return _strict(lambda text, pattern, repl: re.sub(pattern, repl, text, count=0 if "g" in flags else 1))(args)


BUILDERS: dict[type[exp.Expression], Callable[[list[Compiled]], Compiled]] = {
    exp.And: _and, exp.Or: _or, exp.Coalesce: _coalesce, exp.Least: _least,
    exp.Not: _strict(lambda v: not v),
    exp.EQ: _strict(lambda a, b: a == b), exp.NEQ: _strict(lambda a, b: a != b),
    exp.GTE: _strict(lambda a, b: a >= b), exp.LTE: _strict(lambda a, b: a <= b),
    exp.GT: _strict(lambda a, b: a > b), exp.LT: _strict(lambda a, b: a < b),
    exp.Add: _strict(lambda a, b: a + b), exp.Sub: _strict(lambda a, b: a - b),
    exp.Length: _strict(len), exp.Left: _strict(lambda s, n: s[:max(n, 0)]),
    exp.Substring: _strict(_substr), exp.Contains: _strict(lambda s, part: part in s),
    exp.SplitPart: _strict(_split_part), exp.JarowinklerSimilarity: _strict(jaro_winkler),
    exp.Levenshtein: _strict(jellyfish.levenshtein_distance),
}
FUNCTIONS: dict[str, Callable[[list[Compiled]], Compiled]] = {
    "damerau_levenshtein": _strict(jellyfish.damerau_levenshtein_distance),
}
"""Functions sqlglot leaves anonymous, by name."""


def compile_sql(sql: str) -> Compiled:
    """A condition or expression as a function of a row (columns by name; `l.x` is the key 'l.x')."""
    try:
        return _compile(cast(exp.Expression, sqlglot.parse_one(sql, read="duckdb")))
    except Untranslatable as exc:
        raise Untranslatable(f"{exc} in {sql!r}") from None


def _compile(node: exp.Expression) -> Compiled:
    if isinstance(node, exp.Paren):
        return _compile(node.this)
    if isinstance(node, exp.Column):
        key = f"{node.table}.{node.name}" if node.table else node.name
        return lambda row: row[key]
    if isinstance(node, exp.Literal):
        value: Any = node.this if node.is_string else (float(node.this) if "." in node.this else int(node.this))
        return lambda row: value
    if isinstance(node, exp.Boolean):
        truth = bool(node.this)
        return lambda row: truth
    if isinstance(node, exp.Null):
        return lambda row: None
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        inner = _compile(node.this)
        return lambda row: inner(row) is None
    args = [_compile(a) for a in _arguments(node)]
    if isinstance(node, exp.RegexpReplace):
        flags = node.args.get("modifiers")
        return _kept(node, _regexp_replace(args, flags.this if flags is not None else ""))
    if isinstance(node, exp.Anonymous) and node.name.lower() in FUNCTIONS:
        return _kept(node, FUNCTIONS[node.name.lower()](args))
    if type(node) in BUILDERS:
        built = BUILDERS[type(node)](args)
        return _kept(node, built) if type(node) in COSTLY else built
    raise Untranslatable(f"no Python for SQL {node.sql('duckdb')!r}")


COSTLY = (exp.JarowinklerSimilarity, exp.SplitPart, exp.Substring, exp.Coalesce, exp.Least)
"""Functions whose value is kept in the row (see `_kept`); comparisons and logic are cheaper than the lookup."""


def _kept(node: exp.Expression, fn: Compiled) -> Compiled:
    """`fn`, its value kept in the row under the node's SQL: a comparison's levels test the same similarity of
    the same pair one after another (jaro_winkler >= 0.92, then >= 0.88, ...), and it is computed once. The row
    must be a dict of its own (Scorer.score's pair is), or a Mapping that refuses new keys (then nothing is kept)."""
    key = "\x00" + node.sql("duckdb")

    def run(row: Row) -> Any:
        if key in row:
            return row[key]
        value = fn(row)
        if isinstance(row, dict):
            row[key] = value
        return value
    return run


def _arguments(node: exp.Expression) -> list[exp.Expression]:
    """The argument expressions in SQL order (sqlglot keeps them under named keys)."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    if isinstance(node, exp.RegexpReplace):
        return [node.this, node.expression, node.args["replacement"]]
    if isinstance(node, exp.SplitPart):
        return [node.this, node.args["delimiter"], node.args["part_index"]]
    if isinstance(node, exp.Substring):
        return [a for a in (node.this, node.args.get("start"), node.args.get("length")) if a is not None]
    if isinstance(node, exp.Func) and node.args.get("expressions") is not None and node.args.get("this") is not None:
        return [node.this, *node.expressions]
    return [a for key in ("this", "expression") if isinstance(a := node.args.get(key), exp.Expression)]
