"""Scoring candidate pairs with a trained model into `match_pairs`, each with its explanation.

The explanation is a JSON array, one entry per comparison in model order:
`{"comparison": "first_name", "level": "same nickname root", "weight": 3.1}` where weight is the
comparison's match weight (log2 Bayes factor, term-frequency adjustment included).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from splink import DuckDBAPI, Linker
from splink.clustering import cluster_pairwise_predictions_at_threshold
from splink.internals.splink_dataframe import SplinkDataFrame
from splink.internals.term_frequencies import term_frequencies_for_single_column_sql

from cdp.schema import MATCH_PAIRS
from identity import settings as model_settings
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


def linker_over(subset: pa.Table, records: pa.Table, model: dict[str, Any], tf: dict[str, pa.Table]) -> Linker:
    """A Linker over `subset` of `records` (with the block sizes of all records) that scores a pair as a linker over
    all `records` does: its term-frequency tables are those of all `records`, counted into `tf` by Splink's own
    SQL the first time a column is asked for, then reused. Always on DuckDB (see `delta_linker`)."""
    linker = make_linker(subset, model)
    columns = {c.unquote().name: c for c in linker._settings_obj._term_frequency_columns}
    if columns.keys() - tf.keys():
        with duckdb.connect() as con:
            con.register("cdp_all_records", records)
            for name in columns.keys() - tf.keys():
                sql = term_frequencies_for_single_column_sql(columns[name], "cdp_all_records")
                tf[name] = con.sql(sql).to_arrow_table()
    api = linker._db_api  # the linker's own database, where it looks its term-frequency tables up
    for name in columns:
        linker.table_management.register_term_frequency_lookup(api.register(tf[name]), name)
    return linker


def delta_linker(records: pa.Table, delta: pa.Array, model: dict[str, Any], tf: dict[str, pa.Table]) -> Linker:
    """A Linker whose blocking rules keep only the pairs of a record `delta` names (unique ids), flagged
    `DELTA_FLAG`, with any of `records`.

    The same rules, model, block sizes and term frequencies (of all records, as a full run counts them:
    `linker_over`) as `score`, so each such pair gets the probability a full run gives it. Its input is only
    the flagged records and those a rule may pair with one, so neither Splink nor the block sizes make a
    pass over all records beyond a scan. Always on DuckDB, whatever the engine: a delta is small, and the
    saved model keeps DuckDB's SQL.
    """
    rules = model_settings.prediction_rules(model)
    # One rule per side rather than `(l.flag OR r.flag)`: DuckDB pushes a one-sided filter below the join, so
    # each join pairs the few flagged records with all, instead of filtering every blocked pair afterwards.
    restricted = [f"({rule}) AND {side}.{DELTA_FLAG}" for rule in rules for side in ("l", "r")]
    near = with_block_sizes(_near(records, delta, rules), model, among=records)
    return linker_over(near, records, model | {"blocking_rules_to_generate_predictions": restricted}, tf)


def _near(records: pa.Table, delta: pa.Array, rules: list[str]) -> pa.Table:
    """The records `delta` names, flagged `DELTA_FLAG`, and every record one of `rules` may pair with one of them.

    More records than that is harmless (only pairs with a flagged record are scored, and every one of them is
    among these), so the rules' block size caps are left out, and a rule of equal keys takes the records of the
    flagged records' key hashes, all rules in one scan. Another rule joins each way (it need not be symmetric).
    """
    keyed, other = [], []
    for rule in rules:
        keys = model_settings.block_keys(rule)
        if keys is None:
            other.append(rule)
        else:
            nonnull = " and ".join(f"({k}) is not null" for k in keys)
            keyed.append(f"hash({', '.join(keys)}) in (select hash({', '.join(keys)}) from flagged where {nonnull})")
    joined = [f"select {pick}.unique_id from {left} l join {right} r on {rule}" for rule in other
              for pick, left, right in (("r", "flagged", "records"), ("l", "records", "flagged"))]
    paired = [f"select unique_id from records where {' or '.join(keyed)}"] if keyed else []
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        con.register("records", records)
        con.register("delta", pa.table({"unique_id": delta}))
        con.execute("create temp table flagged as select * from records semi join delta using (unique_id)")
        near = " union ".join(["select unique_id from delta", *paired, *joined])
        return con.sql(f"""select records.*, unique_id in (select unique_id from delta) as {DELTA_FLAG} from records
            where unique_id in ({near})""").to_arrow_table()


def score_delta(linker: Linker, model: dict[str, Any], floor: float) -> pa.Table:
    """Every blocked pair with a flagged record (see `delta_linker`) scoring at least `floor`, as match_pairs rows."""
    return _rows(model, linker.inference.predict(threshold_match_probability=floor, warning_mode="never"))


def score_groups(records: pa.Table, model: dict[str, Any], tf: dict[str, pa.Table], groups: pa.Table,
                 known: pa.Table, floor: float) -> pa.Table:
    """The pairs inside `groups` (cluster_id, unique_id) not in `known` (unique_id_l, unique_id_r) and scoring at
    least `floor`: `score`'s completion of groups, for the groups a delta touched (a linker over their records
    of `records`, with the term frequencies `tf` of all: `linker_over`)."""
    members = records.filter(pc.is_in(records["unique_id"], value_set=groups["unique_id"].combine_chunks()))
    linker = linker_over(with_block_sizes(members, model, among=records), records, model, tf)
    api = linker._db_api
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
