"""One record against the resolved ones: candidates through the model's blocking rules, scored in Python.

`Resolver` holds every record in the model's input form (identity.model.INPUT_SQL) in memory as Arrow
columns, indexed by each prediction blocking rule's key (hashes computed set-based in DuckDB), and the
saved model's comparison levels compiled to Python (identity.sqlpy). A record's candidates are the
union of its keys' entries, never a scan, and each pair is scored as Splink scores it: the prior's
match weight plus, per comparison, the weight of the first level whose condition holds and its
term-frequency adjustment (Splink 5's formulas, with its own level objects giving m, u and the
exact-match u), so the probability equals the batch one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from splink.internals.settings_creator import SettingsCreator
from sqlglot import exp

from identity.settings import conjuncts, is_cap, is_floor, prediction_rules
from identity.sqlpy import Compiled, Untranslatable, compile_sql

Record = Mapping[str, Any]
"""A record in the model's input form: column -> value (None for NULL)."""


@dataclass(frozen=True)
class Level:
    """One comparison level, compiled."""

    label: str
    condition: Compiled | None
    """None: the ELSE level."""
    weight: float
    tf_column: str | None = None
    tf_weight: float = 0.0
    tf_log2_u: float = 0.0
    tf_minimum: float = 0.0


@dataclass(frozen=True)
class Score:
    """A pair's match weight, probability and per-comparison explanation (as match_pairs holds it)."""

    match_weight: float
    match_probability: float
    explanation: list[dict[str, Any]]


def model_input(staged: Mapping[str, Any]) -> dict[str, Any]:
    """A staged record's values in the form identity.model.INPUT_SQL gives the model (birth_date a date)."""
    def squeeze(value: str | None) -> str | None:
        return None if value is None else value.replace(" ", "")

    email, born = staged.get("email"), staged.get("birth_date")
    return {"first_name": squeeze(staged.get("first_name")), "first_name_root": staged.get("first_name_root"),
            "middle_name": staged.get("middle_name"), "last_name": squeeze(staged.get("last_name")),
            "name_suffix": staged.get("name_suffix"), "email": email,
            "email_user": None if email is None else email.split("@")[0], "phone": staged.get("phone"),
            "street": squeeze(staged.get("street")), "city": squeeze(staged.get("city")),
            "postcode": staged.get("postcode"), "tax_id": staged.get("tax_id"),
            "dob": None if born is None else born.strftime("%Y%m%d")}


KEY_SEPARATOR = "\x1f"
"""Between the parts of a canonical key text (no standardised value holds it)."""


def key_hash(label: str, parts: Sequence[Any]) -> int:
    """The 64-bit hash of a key: the first 8 bytes of the md5 of its canonical text, as `key_hash_sql` computes it."""
    text = KEY_SEPARATOR.join((label, *map(str, parts)))
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big")


def key_hash_sql(label: str, parts: Sequence[str]) -> str:
    """`key_hash` in DuckDB SQL, of SQL expressions (cast to VARCHAR, as str() gives the model's texts)."""
    text = ", ".join((f"'{label}'", *(f"CAST({p} AS VARCHAR)" for p in parts)))
    return f"('0x' || left(md5(concat_ws(chr(31), {text})), 16))::UBIGINT"


class TermFrequencies:
    """Splink's tf tables, computed in SQL: each value's share of its column's non-NULL values, kept as the sorted
    hashes of (column, value) beside the shares (a 64-bit collision between two values of a column is left to
    chance: about 1 in 10^7 for a million distinct values)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, columns: Iterable[str]) -> None:
        selects = [f"SELECT {key_hash_sql(c, [c])} AS h, count(*)::DOUBLE / sum(count(*)) OVER () AS share "
                   f"FROM {table} WHERE {c} IS NOT NULL GROUP BY {c}" for c in sorted(columns)]
        found = con.execute(" UNION ALL ".join(selects) + " ORDER BY h").fetchnumpy() if selects else {}
        self.hashes: np.ndarray = found.get("h", np.zeros(0, np.uint64))
        self.shares: np.ndarray = found.get("share", np.zeros(0, np.float64))
        # A request looks its own values up once per candidate, and common names come back request after request.
        self.get: Callable[[str, Any], float | None] = lru_cache(maxsize=1 << 16)(self._share)
        """The value's share of the column, None when no record has it (or for NULL)."""

    def _share(self, column: str, value: Any) -> float | None:
        if value is None:
            return None
        h = np.uint64(key_hash(column, [value]))
        i = int(self.hashes.searchsorted(h))
        return float(self.shares[i]) if i < len(self.hashes) and self.hashes[i] == h else None


class Scorer:
    """The saved model's comparisons in Python."""

    def __init__(self, model: dict[str, Any], tf: TermFrequencies) -> None:
        settings = SettingsCreator.from_path_or_dict(model).get_settings("duckdb")
        prior = settings._probability_two_random_records_match
        self.prior_weight = math.log2(prior / (1 - prior))
        self.tf = tf
        self.comparisons = [(c.output_column_name, [self._level(lv, c.comparison_levels) for lv in c.comparison_levels])
                            for c in settings.comparisons]

    @staticmethod
    def _level(level: Any, levels: list[Any]) -> Level:
        condition = None if level._is_else_level else compile_sql(level.sql_condition)
        label = "missing" if level.is_null_level else level.label_for_charts
        if not level._has_tf_adjustments or level._tf_adjustment_weight == 0 or level.is_null_level:
            return Level(label, condition, level._match_weight)
        return Level(label, condition, level._match_weight, level._tf_adjustment_input_column.input_name,
                     level._tf_adjustment_weight, math.log2(level._u_probability_corresponding_to_exact_match(levels)),
                     level._tf_minimum_u_value)

    def score(self, left: Record, right: Record) -> Score:
        """The pair as Splink's predict() scores it (left and right as unique_id_l and _r)."""
        pair = dict(zip(map(_suffixed_l, left), left.values(), strict=True))
        pair.update(zip(map(_suffixed_r, right), right.values(), strict=True))
        total, explanation = self.prior_weight, []
        for name, levels in self.comparisons:  # the request path's inner loop: plain loops, no generators
            for level in levels:
                if level.condition is None or level.condition(pair) is True:
                    break
            weight = level.weight + self._tf_adjustment(level, left, right) if level.tf_column else level.weight
            total += weight
            explanation.append({"comparison": name, "level": level.label, "weight": round(weight, 2)})
        return Score(total, _probability(total), explanation)

    def _tf_adjustment(self, level: Level, left: Record, right: Record) -> float:
        if level.tf_column is None:
            return 0.0
        column = level.tf_column
        tf_l, tf_r = self.tf.get(column, left[column]), self.tf.get(column, right[column])
        if tf_l is None and tf_r is None:
            return 0.0
        # greatest(coalesce(tf_l, tf_r), coalesce(tf_r, tf_l), minimum): one of the two is known here
        u = max(tf_l if tf_l is not None else 0.0, tf_r if tf_r is not None else 0.0, level.tf_minimum)
        return level.tf_weight * (level.tf_log2_u - math.log2(u))


@lru_cache(maxsize=256)
def _suffixed_l(column: str) -> str:
    return f"{column}_l"


@lru_cache(maxsize=256)
def _suffixed_r(column: str) -> str:
    return f"{column}_r"


def _probability(weight: float) -> float:
    """Splink's match probability of a match weight, computed the way it avoids overflow."""
    if weight >= 0:
        return 1.0 / (1.0 + 2.0 ** -weight)
    return 2.0 ** weight / (1.0 + 2.0 ** weight)


class BlockingRule:
    """A conjunction of equalities between `l.` and `r.` expressions, as key functions of one record, and the
    cap on its blocks' size (`cap`, from settings.capped; None when uncapped)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.cap: int | None = None
        sides = []
        for eq in conjuncts(cast(exp.Expression, sqlglot.parse_one(sql, read="duckdb"))):
            if is_cap(eq):
                self.cap = int(eq.expression.this)
                continue
            if is_floor(eq):  # a split's blocks within its first rule's cap are that rule's candidates already
                continue
            if not isinstance(eq, exp.EQ):
                raise Untranslatable(f"blocking rule {sql!r}: only equalities joined by AND can be indexed")
            left, right = (eq.this, eq.expression) if _table(eq.this) == "l" else (eq.expression, eq.this)
            if {_table(left), _table(right)} != {"l", "r"}:
                raise Untranslatable(f"blocking rule {sql!r}: each equality must set an l. side against an r. one")
            sides.append((left, right))
        pairs = [(_as(left, "t").sql("duckdb"), _as(right, "t").sql("duckdb")) for left, right in sides]
        self.left_sql, self.right_sql = [left for left, _ in pairs], [right for _, right in pairs]
        self.left = [compile_sql(left) for left in self.left_sql]
        self.right = [compile_sql(right) for right in self.right_sql]
        # The same key either way round (l.email = r.email; also first = last AND last = first): one index serves
        # a record on either side of the pair.
        self.symmetric = sorted(pairs) == sorted((b, a) for a, b in pairs)

    @staticmethod
    def key(functions: Sequence[Compiled], row: Record) -> tuple[Any, ...] | None:
        """A record's key under one side's expressions (`row`: the record as `as_row` gives it); None when any
        part is NULL (NULL joins nothing)."""
        values = tuple(f(row) for f in functions)
        return None if any(v is None for v in values) else values

    @staticmethod
    def as_row(record: Record) -> dict[str, Any]:
        """The record's columns as the rules' expressions name them (`t.<column>`)."""
        return {f"t.{k}": v for k, v in record.items()}


def _table(node: exp.Expression) -> str:
    tables = {c.table for c in node.find_all(exp.Column)}
    return tables.pop() if len(tables) == 1 else ""


def _as(node: exp.Expression, table: str) -> exp.Expression:
    """The expression with its columns' table renamed."""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", exp.to_identifier(table))
    return copy


Probe = tuple[BlockingRule, Sequence[Compiled], tuple[Any, ...], int]
"""One key of a request: (rule, the indexed side's expressions, the request's key on the other side, its hash)."""


class Resolver:
    """Records indexed by every blocking rule, and the scorer of the model they were resolved with.

    `records` (Arrow: record_id, customer_id and the model's input columns) is kept as it is and read by
    position, only for a request's candidates. The index is one sorted array of 64-bit key hashes beside the
    positions of the records with that key, a key being a rule, a side and the side's values (`key_hash`), all
    computed in DuckDB SQL; a request hashes its own keys the same way in Python, and each hit is checked
    against the rule's expressions on the candidate's values, so a hash collision adds no candidate. Term
    frequencies too are SQL.
    """

    def __init__(self, records: pa.Table, model: dict[str, Any]) -> None:
        self.rules = [BlockingRule(r) for r in prediction_rules(model)]
        tf_columns = {lv.get("tf_adjustment_column") for c in model["comparisons"] for lv in c["comparison_levels"]}
        con = duckdb.connect()
        try:
            # positions as Arrow numbers them: a scan's own row numbers follow no order once DuckDB runs it in parallel
            con.register("t", records.append_column("pos", pa.array(np.arange(records.num_rows, dtype=np.uint32))))
            self.hashes, self.positions = _key_index(con, self.rules)
            self.scorer = Scorer(model, TermFrequencies(con, "t", {c for c in tf_columns if c}))
        finally:
            con.close()
        # One batch: a take from it costs a fifth less than from a chunked table, and a third of a take from
        # dictionary-encoded columns (which would save a third of the memory: the request path wins).
        batches = records.combine_chunks().to_batches()
        self.records = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=records.schema)

    def __len__(self) -> int:
        return self.records.num_rows

    def rows(self, positions: Sequence[int]) -> list[dict[str, Any]]:
        """The records at these positions, as column -> value."""
        return self.records.take(pa.array(positions, pa.uint32())).to_pylist()

    def _probes(self, record: Record) -> list[Probe]:
        """Every key of the record, as a Probe."""
        row = BlockingRule.as_row(record)
        probes: list[Probe] = []
        for n, rule in enumerate(self.rules):
            for side, mine, theirs in (("r", rule.left, rule.right), ("l", rule.right, rule.left)):
                if side == "l" and rule.symmetric:
                    continue
                key = rule.key(mine, row)
                if key is not None:
                    probes.append((rule, theirs, key, key_hash(f"{n}{side}", key)))
        return probes

    def candidates(self, record: Record) -> dict[int, dict[str, Any]]:
        """The records sharing a blocking key with `record` (on either side of a rule), by position."""
        probes = self._probes(record)
        wanted = np.array([p[3] for p in probes], np.uint64)
        starts, ends = self.hashes.searchsorted(wanted, "left"), self.hashes.searchsorted(wanted, "right")
        # A capped rule pairs no block of more than `cap` records, the request's own record counted, as in a run.
        hits = [self.positions[a:b].tolist() if p[0].cap is None or b - a + 1 <= p[0].cap else []
                for p, a, b in zip(probes, starts, ends, strict=True)]
        found = sorted({i for positions in hits for i in positions})
        rows = dict(zip(found, self.rows(found), strict=True))
        named = {i: BlockingRule.as_row(row) for i, row in rows.items()}
        return {i: rows[i] for (rule, theirs, key, _), positions in zip(probes, hits, strict=True) for i in positions
                if rule.key(theirs, named[i]) == key}

    def resolve(self, record: Record) -> list[tuple[str, str, Score]]:
        """(customer_id, record_id of its best record, score) of every candidate customer, best first."""
        best: dict[str, tuple[str, Score]] = {}
        for candidate in self.candidates(record).values():
            score = self.scorer.score(record, candidate)
            customer = candidate["customer_id"]
            if customer not in best or score.match_weight > best[customer][1].match_weight:
                best[customer] = (candidate["record_id"], score)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1].match_weight, kv[0]))
        return [(customer, record_id, score) for customer, (record_id, score) in ranked]


def _key_index(con: duckdb.DuckDBPyConnection, rules: Sequence[BlockingRule]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted key hashes, record positions) of every record of view `t` under every rule's indexed sides: "r"
    holds records as the right of a pair, "l" as the left (only for a rule that is not symmetric)."""
    selects = []
    for n, rule in enumerate(rules):
        for side, parts in (("r", rule.right_sql), *(() if rule.symmetric else (("l", rule.left_sql),))):
            known = " AND ".join(f"({p}) IS NOT NULL" for p in parts)
            selects.append(f"SELECT {key_hash_sql(f'{n}{side}', parts)} AS h, pos FROM t WHERE {known}")
    if not selects:
        return np.zeros(0, np.uint64), np.zeros(0, np.uint32)
    found = con.execute(" UNION ALL ".join(selects) + " ORDER BY h, pos").fetchnumpy()
    return found["h"], found["pos"]
