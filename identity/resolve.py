"""One record against the resolved ones: candidates through the model's blocking rules, scored in Python.

`Resolver` holds every record in the model's input form (identity.model.INPUT_SQL) in memory, indexed
by each prediction blocking rule's key, and the saved model's comparison levels compiled to Python
(identity.sqlpy). A record's candidates are the union of its keys' entries, never a scan, and each
pair is scored as Splink scores it: the prior's match weight plus, per comparison, the weight of the
first level whose condition holds and its term-frequency adjustment (Splink 5's formulas, with its own
level objects giving m, u and the exact-match u), so the probability equals the batch one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlglot
from splink.internals.settings_creator import SettingsCreator
from sqlglot import exp

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


def term_frequencies(records: Iterable[Record], columns: Iterable[str]) -> dict[str, dict[Any, float]]:
    """Splink's tf tables: per column, each value's share of the column's non-NULL values."""
    counts = {c: Counter[Any]() for c in columns}
    for record in records:
        for column, counter in counts.items():
            if record[column] is not None:
                counter[record[column]] += 1
    return {c: {v: n / total for v, n in counter.items()} for c, counter in counts.items()
            if (total := sum(counter.values()))}


class Scorer:
    """The saved model's comparisons in Python."""

    def __init__(self, model: dict[str, Any], tf: Mapping[str, Mapping[Any, float]]) -> None:
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
        pair = {f"{k}_l": v for k, v in left.items()} | {f"{k}_r": v for k, v in right.items()}
        total, explanation = self.prior_weight, []
        for name, levels in self.comparisons:
            level = next(lv for lv in levels if lv.condition is None or lv.condition(pair) is True)
            weight = level.weight + self._tf_adjustment(level, left, right)
            total += weight
            explanation.append({"comparison": name, "level": level.label, "weight": round(weight, 2)})
        return Score(total, _probability(total), explanation)

    def _tf_adjustment(self, level: Level, left: Record, right: Record) -> float:
        if level.tf_column is None:
            return 0.0
        table = self.tf.get(level.tf_column, {})
        tf_l, tf_r = table.get(left[level.tf_column]), table.get(right[level.tf_column])
        if tf_l is None and tf_r is None:
            return 0.0
        # greatest(coalesce(tf_l, tf_r), coalesce(tf_r, tf_l), minimum): one of the two is known here
        u = max(tf_l if tf_l is not None else 0.0, tf_r if tf_r is not None else 0.0, level.tf_minimum)
        return level.tf_weight * (level.tf_log2_u - math.log2(u))


def _probability(weight: float) -> float:
    """Splink's match probability of a match weight, computed the way it avoids overflow."""
    if weight >= 0:
        return 1.0 / (1.0 + 2.0 ** -weight)
    return 2.0 ** weight / (1.0 + 2.0 ** weight)


class BlockingRule:
    """A conjunction of equalities between `l.` and `r.` expressions, as key functions of one record."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        sides = []
        for eq in _conjuncts(cast(exp.Expression, sqlglot.parse_one(sql, read="duckdb"))):
            if not isinstance(eq, exp.EQ):
                raise Untranslatable(f"blocking rule {sql!r}: only equalities joined by AND can be indexed")
            left, right = (eq.this, eq.expression) if _table(eq.this) == "l" else (eq.expression, eq.this)
            if {_table(left), _table(right)} != {"l", "r"}:
                raise Untranslatable(f"blocking rule {sql!r}: each equality must set an l. side against an r. one")
            sides.append((left, right))
        pairs = [(_as(left, "t").sql("duckdb"), _as(right, "t").sql("duckdb")) for left, right in sides]
        self.left = [compile_sql(left) for left, _ in pairs]
        self.right = [compile_sql(right) for _, right in pairs]
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


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Paren) else node
    return [*_conjuncts(node.this), *_conjuncts(node.expression)] if isinstance(node, exp.And) else [node]


def _table(node: exp.Expression) -> str:
    tables = {c.table for c in node.find_all(exp.Column)}
    return tables.pop() if len(tables) == 1 else ""


def _as(node: exp.Expression, table: str) -> exp.Expression:
    """The expression with its columns' table renamed."""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", exp.to_identifier(table))
    return copy


class Resolver:
    """Records indexed by every blocking rule, and the scorer of the model they were resolved with."""

    def __init__(self, records: Sequence[Record], customers: Sequence[str], model: dict[str, Any]) -> None:
        self.records, self.customers = records, customers
        rules = [r if isinstance(r, str) else r["blocking_rule"]
                 for r in model.get("blocking_rules_to_generate_predictions", [])]
        self.rules = [BlockingRule(r) for r in rules]
        # (rule, side) -> key -> record positions; side "r" holds records as the right of a pair
        self.index: dict[tuple[int, str], dict[tuple[Any, ...], list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, record in enumerate(records):
            row = BlockingRule.as_row(record)
            for n, rule in enumerate(self.rules):
                for side, functions in (("r", rule.right), *(() if rule.symmetric else (("l", rule.left),))):
                    key = rule.key(functions, row)
                    if key is not None:
                        self.index[n, side][key].append(i)
        tf_columns = {lv.get("tf_adjustment_column") for c in model["comparisons"] for lv in c["comparison_levels"]}
        self.scorer = Scorer(model, term_frequencies(records, {c for c in tf_columns if c}))

    def candidates(self, record: Record) -> set[int]:
        """Positions of the records sharing a blocking key with `record` (on either side of a rule)."""
        found: set[int] = set()
        row = BlockingRule.as_row(record)
        for n, rule in enumerate(self.rules):
            for side, functions in (("r", rule.left), ("l", rule.right)):
                if side == "l" and rule.symmetric:
                    continue
                key = rule.key(functions, row)
                if key is not None:
                    found.update(self.index[n, side].get(key, ()))
        return found

    def resolve(self, record: Record) -> list[tuple[str, str, Score]]:
        """(customer_id, record_id of its best record, score) of every candidate customer, best first."""
        best: dict[str, tuple[int, Score]] = {}
        for i in self.candidates(record):
            score = self.scorer.score(record, self.records[i])
            customer = self.customers[i]
            if customer not in best or score.match_weight > best[customer][1].match_weight:
                best[customer] = (i, score)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][1].match_weight, kv[0]))
        return [(customer, self.records[i]["record_id"], score) for customer, (i, score) in ranked]
