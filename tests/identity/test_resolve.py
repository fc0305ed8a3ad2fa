"""The Python scorer and blocking index of /resolve against Splink's own batch scores and blocking, pair for pair."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from identity import settings as model_settings
from identity.model import read_input
from identity.predict import score
from identity.resolve import Resolver, key_hash, key_hash_sql, model_input
from identity.sqlpy import compile_sql, jaro_winkler
from serving.tables import MATCH_COLUMNS
from tests.identity.population import hard_cases, population
from tests.utils.models import made_up_model
from tests.utils.staged import staged_row, write_staged

Batch = tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]


@pytest.fixture(scope="module")
def batch() -> Batch:
    """(staged rows, model input rows, trained model, every blocked pair as batch scoring wrote it)."""
    rows, _ = population(households=250)
    rows += hard_cases()
    con = duckdb.connect()
    write_staged(con, rows)
    records = read_input(con)
    model = made_up_model(7)
    pairs = score(records, model, floor=1e-12, threshold=0.9, complete_up_to=0).read_all().to_pylist()
    inputs = [{k: r[k] for k in ("unique_id", *MATCH_COLUMNS)} for r in records.to_pylist()]
    return rows, inputs, model, pairs


@pytest.fixture(scope="module")
def resolver(batch: Batch) -> Resolver:
    _, inputs, model, _ = batch
    records = pa.Table.from_pylist([{"record_id": r["unique_id"], "customer_id": r["unique_id"]}
                                    | {c: r[c] for c in MATCH_COLUMNS} for r in inputs])
    return Resolver(records, model)


def test_model_input_is_the_input_sql(batch: Batch) -> None:
    rows, inputs, _, _ = batch
    by_id = {r["unique_id"]: r for r in inputs}
    for row in rows:
        assert model_input(row) == {k: v for k, v in by_id[row["record_id"]].items() if k != "unique_id"}


def test_probabilities_and_explanations_equal_the_batch_ones(batch: Batch, resolver: Resolver) -> None:
    _, inputs, _, pairs = batch
    by_id = {r["unique_id"]: r for r in inputs}
    assert len(pairs) > 1000
    for pair in pairs:
        got = resolver.scorer.score(by_id[pair["record_id_l"]], by_id[pair["record_id_r"]])
        assert got.match_weight == pytest.approx(pair["match_weight"], abs=1e-9), pair
        assert got.match_probability == pytest.approx(pair["match_probability"], abs=1e-9), pair
        assert got.explanation == json.loads(pair["explanation"]), pair


def test_candidates_are_the_blocked_pairs(batch: Batch, resolver: Resolver) -> None:
    """Every record's candidates are exactly the records a prediction rule pairs it with."""
    _, inputs, _, pairs = batch
    blocked = {frozenset((p["record_id_l"], p["record_id_r"])) for p in pairs}
    # Each request here is a record of the index, so its blocks hold it already where a request's would not: a
    # cap one higher counts it once, as the run did (the population has blocks of exactly SPLIT_BLOCK records).
    indexed = copy.copy(resolver)
    indexed.rules = [copy.copy(rule) for rule in resolver.rules]
    for rule in indexed.rules:
        rule.cap = None if rule.cap is None else rule.cap + 1
    found = set()
    for i, record in enumerate(indexed.rows(range(len(indexed)))):
        found |= {frozenset((record["record_id"], candidate["record_id"]))
                  for j, candidate in indexed.candidates(record).items() if j != i}
    assert found == blocked
    assert len(model_settings.PREDICTION_RULES) == len(resolver.rules)


def test_compiled_conditions_follow_sql_nulls_and_functions() -> None:
    con = duckdb.connect()
    rng = random.Random(3)
    words = ["", "A", "AB", "BA", "MARTHA", "MARHTA", "DIXON", "DICKSONX", "JOHN", "JON", None]
    sqls = ["a = b OR a IS NULL", "NOT (a = b) AND coalesce(a, b) IS NOT NULL", "least(length(a), length(b)) >= 2",
            "jaro_winkler_similarity(a, b) >= 0.92", "damerau_levenshtein(a, b) <= 1", "contains(a, b)",
            "left(a, 1) = left(b, 1)", "substr(a, 2, 2) = substr(b, 2, 2)", "split_part(a, 'H', 2) = b",
            "regexp_replace(a, '[AEIOU]', '', 'g') = regexp_replace(b, '[AEIOU]', '')"]
    for sql in sqls:
        compiled = compile_sql(sql)
        for _ in range(60):
            a, b = rng.choice(words), rng.choice(words)
            expected = con.execute(f"select {sql} from (select ?::VARCHAR as a, ?::VARCHAR as b)", [a, b]).fetchone()
            assert expected is not None and compiled({"a": a, "b": b}) == expected[0], (sql, a, b)


def test_jaro_winkler_rounds_as_duckdb() -> None:
    con = duckdb.connect()
    rng = random.Random(4)
    pairs = [("".join(rng.choices("ABCDE", k=rng.randint(1, 9))), "".join(rng.choices("ABCDE", k=rng.randint(1, 9))))
             for _ in range(3000)]
    con.execute("create table p (a VARCHAR, b VARCHAR)")
    con.executemany("insert into p values (?, ?)", pairs)
    expected = [v for (v,) in con.execute("select jaro_winkler_similarity(a, b) from p order by rowid").fetchall()]
    assert [jaro_winkler(a, b) for a, b in pairs] == expected


def test_a_key_hashes_alike_in_python_and_duckdb() -> None:
    """The index's keys are hashed in SQL, a request's in Python: the same texts give the same 64 bits."""
    keys = [["SMITH"], ["O'BRIEN", "19800304"], ["MÜLLER", "ZOË", "北京"], ["", "X"]]
    con = duckdb.connect()
    for key in keys:
        parts = [f"'{p.replace(chr(39), chr(39) * 2)}'" for p in key]
        (got,) = con.execute(f"select {key_hash_sql('3r', parts)}").fetchone() or (None,)
        assert got == key_hash("3r", key), key


def test_a_block_over_the_cap_pairs_nothing_in_a_run_or_a_resolve() -> None:
    """A full name shared by more than MAX_BLOCK records makes no pairs by that name; one shared by MAX_BLOCK
    makes all of its pairs. /resolve counts the request as one of the block, as a run would count it."""
    cap = model_settings.MAX_BLOCK
    rows = [staged_row("s", f"big{i}", first_name="ZEDEKIAH", last_name="QUUXLEY") for i in range(cap + 1)]
    rows += [staged_row("s", f"full{i}", first_name="OTTILIE", last_name="VANTONGEREN") for i in range(cap)]
    rows += [staged_row("s", f"under{i}", first_name="PERPETUA", last_name="ABERNATHY") for i in range(cap - 1)]
    con = duckdb.connect()
    write_staged(con, rows)
    records = read_input(con)
    pairs = score(records, made_up_model(7), floor=1e-12, threshold=0.9, complete_up_to=0).read_all().to_pylist()
    by_block: dict[str, int] = {}
    for pair in pairs:
        block = pair["record_id_l"].split(":")[1].rstrip("0123456789")
        assert block == pair["record_id_r"].split(":")[1].rstrip("0123456789")
        by_block[block] = by_block.get(block, 0) + 1
    assert by_block == {"full": cap * (cap - 1) // 2, "under": (cap - 1) * (cap - 2) // 2}

    inputs = records.to_pylist()
    resolver = Resolver(pa.Table.from_pylist([{"record_id": r["unique_id"], "customer_id": r["unique_id"]}
                                              | {c: r[c] for c in MATCH_COLUMNS} for r in inputs]), made_up_model(7))
    request = dict.fromkeys(MATCH_COLUMNS)
    for first, last, found in (("ZEDEKIAH", "QUUXLEY", 0), ("OTTILIE", "VANTONGEREN", 0),
                               ("PERPETUA", "ABERNATHY", cap - 1)):
        asked = request | {"first_name": first, "first_name_root": first, "last_name": last}
        assert len(resolver.candidates(asked)) == found, first


def test_a_surname_and_postcode_block_over_the_split_cap_is_split_by_first_initial_in_a_run_and_a_resolve() -> None:
    """A last name and postcode shared by more than SPLIT_BLOCK records pairs those of one first initial (blocks
    split, not dropped); one shared by SPLIT_BLOCK pairs all, whatever their initials."""
    split = model_settings.SPLIT_BLOCK
    half = split // 2 + 1  # two initials of `half` records each: a block of more than `split`
    rows = [staged_row("s", f"big{initial}{i}", first_name=f"{initial}X{chr(65 + i)}", last_name="QUUXLEY",
                       postcode="99501") for initial in "AB" for i in range(half)]
    rows += [staged_row("s", f"small{i}", first_name=f"{'AB'[i % 2]}Y{chr(65 + i)}", last_name="QUUXLEY",
                        postcode="99502") for i in range(split)]
    con = duckdb.connect()
    write_staged(con, rows)
    records = read_input(con)
    pairs = score(records, made_up_model(7), floor=0.0, threshold=0.9, complete_up_to=0).read_all().to_pylist()
    found = {frozenset((p["record_id_l"][2:], p["record_id_r"][2:])) for p in pairs}
    big = [f"big{initial}{i}" for initial in "AB" for i in range(half)]
    within = {frozenset((a, b)) for a in big for b in big if a < b and a[3] == b[3]}  # big<initial><i>
    small = [f"small{i}" for i in range(split)]
    assert found == within | {frozenset((a, b)) for a in small for b in small if a < b}

    inputs = records.to_pylist()
    resolver = Resolver(pa.Table.from_pylist([{"record_id": r["unique_id"], "customer_id": r["unique_id"]}
                                              | {c: r[c] for c in MATCH_COLUMNS} for r in inputs]), made_up_model(7))
    asked = dict.fromkeys(MATCH_COLUMNS) | {"last_name": "QUUXLEY", "postcode": "99501"}
    for first, expected in (("AZZ", half), ("CZZ", 0)):
        assert len(resolver.candidates(asked | {"first_name": first, "first_name_root": first})) == expected, first
