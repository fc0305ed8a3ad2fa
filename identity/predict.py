"""Scoring candidate pairs with a trained model into `match_pairs`, each with its explanation.

The explanation is a JSON array, one entry per comparison in model order:
`{"comparison": "first_name", "level": "same nickname root", "weight": 3.1}` where weight is the
comparison's match weight (log2 Bayes factor, term-frequency adjustment included).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.clustering import cluster_pairwise_predictions_at_threshold
from splink.internals.splink_dataframe import SplinkDataFrame

from cdp.schema import MATCH_PAIRS
from identity.engine import DUCKDB, Engine
from identity.model import make_linker, with_block_sizes

PAIR_BATCH = 100_000
"""Scored pairs per Arrow batch on their way into the warehouse."""
DELTA_FLAG = "cdp_delta"
"""Input column of `delta_linker`: the record is new or changed."""


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _level_case(comparison: dict[str, Any]) -> str:
    """SQL mapping the comparison's gamma value to its level label (Splink numbers levels n-1 .. 0)."""
    levels = comparison["comparison_levels"]
    non_null = [lv for lv in levels if not lv.get("is_null_level")]
    whens = [f"when {len(non_null) - 1 - k} then {_sql_text(lv['label_for_charts'])}" for k, lv in enumerate(non_null)]
    return f"case gamma_{comparison['output_column_name']} {' '.join(whens)} else 'missing' end"


def _weight(comparison: dict[str, Any]) -> str:
    name = comparison["output_column_name"]
    has_tf = any(lv.get("tf_adjustment_column") for lv in comparison["comparison_levels"])
    tf = f" + coalesce(mw_tf_adj_{name}, 0)" if has_tf else ""
    return f"round(mw_{name}{tf}, 2)"


def explanation_sql(model: dict[str, Any]) -> str:
    """SQL building the explanation JSON array from Splink's retained gamma and weight columns."""
    parts = [
        f"json_object('comparison', {_sql_text(c['output_column_name'])}, 'level', {_level_case(c)}, "
        f"'weight', {_weight(c)})"
        for c in model["comparisons"]
    ]
    return f"json_array({', '.join(parts)})"


def score(records: pa.Table, model: dict[str, Any], floor: float, threshold: float, complete_up_to: int,
          engine: Engine = DUCKDB) -> pa.RecordBatchReader:
    """Every blocked pair scoring at least `floor`, as a stream of match_pairs rows (read it before scoring again).

    Blocking misses some pairs inside a group of linked records (two duplicates of one person, each
    mistyped in a different field, may share no blocking key). Those pairs are scored too,
    for groups of up to `complete_up_to` records, so the clustering guards can see how the model
    judges them instead of guessing. The explanations are built on DuckDB whatever `engine` scored.
    A stream, not a table: a million records' pairs with their explanations took 1.5 GB as one Arrow table.
    """
    linker = make_linker(records, model, engine)
    predicted = linker.inference.predict(threshold_match_probability=floor, warning_mode="never")
    missing = _score_within_groups(linker, engine, predicted, floor, threshold, complete_up_to)
    sql = f"""select unique_id_l as record_id_l, unique_id_r as record_id_r, match_probability, match_weight,
                     {explanation_sql(model)} as explanation
              from (select * from predicted union all by name select * from missing)
              order by record_id_l, record_id_r"""
    return engine.on_duckdb({"predicted": predicted, "missing": missing}).sql(sql).to_arrow_reader(PAIR_BATCH)


def _rows(model: dict[str, Any], *scored: SplinkDataFrame) -> pa.Table:
    """Splink's scored pairs as match_pairs rows."""
    union = " union all by name ".join(f"select * from {s.physical_name}" for s in scored)
    sql = f"""select unique_id_l as record_id_l, unique_id_r as record_id_r, match_probability, match_weight,
                     {explanation_sql(model)} as explanation
              from ({union}) order by record_id_l, record_id_r"""
    return scored[0].db_api.duckdb_con.sql(sql).to_arrow_table()


def delta_linker(records: pa.Table, model: dict[str, Any]) -> Linker:
    """A Linker over all `records` whose blocking rules keep only the pairs with a record flagged `DELTA_FLAG`.

    The same rules, model and term frequencies (counted over all records, as a full run counts them) as
    `score`, so each such pair gets the probability a full run gives it. Always on DuckDB, whatever the
    engine: a delta is small, and the saved model keeps DuckDB's SQL.
    """
    rules = [r if isinstance(r, str) else r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]
    # One rule per side rather than `(l.flag OR r.flag)`: DuckDB pushes a one-sided filter below the join, so
    # each join pairs the few flagged records with all, instead of filtering every blocked pair afterwards.
    restricted = [f"({rule}) AND {side}.{DELTA_FLAG}" for rule in rules for side in ("l", "r")]
    # The block sizes of the model's own rules (the restricted ones say nothing of them), over all records.
    return make_linker(with_block_sizes(records, model), model | {"blocking_rules_to_generate_predictions": restricted})


def score_delta(linker: Linker, model: dict[str, Any], floor: float) -> pa.Table:
    """Every blocked pair with a flagged record (see `delta_linker`) scoring at least `floor`, as match_pairs rows."""
    return _rows(model, linker.inference.predict(threshold_match_probability=floor, warning_mode="never"))


def score_groups(linker: Linker, model: dict[str, Any], groups: pa.Table, known: pa.Table, floor: float) -> pa.Table:
    """The pairs inside `groups` (cluster_id, unique_id) not in `known` (unique_id_l, unique_id_r) and scoring at
    least `floor`: `score`'s completion of groups, for the groups a delta touched."""
    api = linker._db_api  # the linker's own database, where its term-frequency tables live
    missing = linker.inference._score_missing_cluster_edges(api.register(groups), api.register(known),
                                                            threshold_match_probability=floor)
    return _rows(model, missing)


def _score_within_groups(linker: Linker, engine: Engine, predicted: SplinkDataFrame, floor: float, threshold: float,
                         complete_up_to: int) -> SplinkDataFrame:
    # The links cluster on DuckDB whatever the engine: on Spark, Splink's connected components are dozens of
    # small jobs over a plan that grows with each (the driver ran out of heap on FEBRL3's 5,000 records).
    links = engine.on_duckdb({"predicted": predicted}).sql(f"""select unique_id_l, unique_id_r from predicted
        where match_probability >= {float(threshold)}""").to_arrow_table()
    nodes = pa.table({"unique_id": pa.concat_arrays([links["unique_id_l"].combine_chunks(),
                                                     links["unique_id_r"].combine_chunks()]).unique()})
    groups = cluster_pairwise_predictions_at_threshold(nodes, links, DuckDBAPI(), "unique_id")
    small = predicted.db_api.register(groups.db_api.duckdb_con.sql(
        f"""select cluster_id, unique_id from {groups.physical_name}
            qualify count(*) over (partition by cluster_id) between 3 and {int(complete_up_to)}""").to_arrow_table())
    # Splink's own scorer of a cluster's unscored pairs (private in Splink 5; no public equivalent).
    return linker.inference._score_missing_cluster_edges(small, predicted, threshold_match_probability=floor)


def write_match_pairs(con: duckdb.DuckDBPyConnection, pairs: pa.Table | pa.RecordBatchReader) -> None:
    """Replace `match_pairs` with `pairs` (a stream is read once, batch by batch)."""
    con.register("scored_pairs", pairs)
    con.execute(f"""create or replace table {MATCH_PAIRS} as
        select record_id_l, record_id_r, match_probability, match_weight, explanation::json as explanation
        from scored_pairs""")
    con.unregister("scored_pairs")
