"""The matching stage as one plain function: staged records -> model -> match_pairs + review queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from cdp.config import IdentityConfig
from cdp.schema import MATCH_PAIRS
from identity import settings as model_settings
from identity.engine import DUCKDB, Engine
from identity.incremental import (
    DELTA,
    MAX_DELTA_SHARE,
    find_delta,
    full_reason,
    linked_component_records,
    pend_all,
    pend_delta,
    save_snapshot,
    strong_pairs,
)
from identity.labels import refine, threshold, used
from identity.model import ModelStore, model_for, read_input, with_block_sizes
from identity.predict import delta_linker, score, score_delta, score_groups, write_match_pairs
from identity.review import refresh_candidates

MIN_RECORDS = 2
NO_PAIRS = pa.table({"record_id_l": pa.array([], pa.string()), "record_id_r": pa.array([], pa.string()),
                     "match_probability": pa.array([], pa.float64()), "match_weight": pa.array([], pa.float64()),
                     "explanation": pa.array([], pa.string())})


@dataclass
class MatchStats:
    """What a matching run did, for asset metadata."""

    records: int
    pairs: int
    links: int
    review_open: int
    model: str
    trained: bool
    labels: int
    """Steward decisions the model learnt from (identity.labels); 0 for an unsupervised model."""
    threshold: float
    """The match threshold in use: the model's, picked from labels, else cdp.yaml's."""
    mode: str = "full"
    """`full`: every pair scored; `incremental`: only the pairs of records changed since the last run."""
    reason: str = ""
    """Why the run was full, or how many records changed."""


def match(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig, store: ModelStore, retrain: bool = False,
          with_labels: bool = False, full: bool = False, engine: Engine = DUCKDB) -> MatchStats:
    """Score the staged records with the current model (training one first if asked or missing), refined
    by the stewards' labels when asked (`with_labels`) or once there are enough (identity.labels).

    Unless `full` (or the model changed, or there is no previous run, or too much changed:
    identity.incremental), only the pairs of records new or changed since the last run are scored and the
    rest of match_pairs is kept (on DuckDB: a delta is small). Splink's training and full scoring run on
    `engine`; the tables stay in the warehouse.
    """
    records = read_input(con)
    if records.num_rows < MIN_RECORDS:  # nothing to learn from or to pair; the tables still exist
        write_match_pairs(con, NO_PAIRS)
        pend_all(con)
        return MatchStats(records.num_rows, 0, 0, refresh_candidates(con, cfg.review_band), "", False, 0,
                          cfg.threshold, reason="too few records")
    if retrain or store.current() is None:  # counted once for training's several linkers (a new model has these rules)
        records = with_block_sizes(records, model_settings.settings())
    # Otherwise each linker counts the block sizes it needs: a full scoring over all records, a delta's only
    # for the records it may pair with.
    model, path, trained = model_for(store, records, retrain, engine)
    model, refined = refine(con, store, records, model, cfg, required=with_labels, engine=engine)
    path = refined or path
    cut = threshold(model, cfg.threshold)
    floor = min(cfg.review_band[0], cut)
    reason = full_reason(con, full, trained or refined is not None, path.name)
    changed = 0
    if reason is None:
        changed = find_delta(con)
        if changed > MAX_DELTA_SHARE * records.num_rows:
            reason = f"{changed} changed records, over {MAX_DELTA_SHARE:.0%} of {records.num_rows}"
    if reason is None:
        _match_delta(con, records, model, floor, cut, 2 * cfg.max_cluster_size)
        pend_delta(con)
    else:
        write_match_pairs(con, score(records, model, floor, cut, 2 * cfg.max_cluster_size, engine))
        pend_all(con)
    save_snapshot(con, path.name, delta=reason is None)
    review_open = refresh_candidates(con, cfg.review_band)
    pairs, links = con.execute(f"select count(*), count(*) filter (where match_probability >= ?) from {MATCH_PAIRS}",
                               [cut]).fetchall()[0]
    return MatchStats(records.num_rows, pairs, links, review_open, path.name, trained or refined is not None,
                      used(model), cut, "incremental" if reason is None else "full",
                      reason or f"{changed} records new, changed or deleted")


def _match_delta(con: duckdb.DuckDBPyConnection, records: pa.Table, model: dict[str, Any], floor: float, cut: float,
                 complete_up_to: int) -> None:
    """Replace the pairs of the delta's records by their new scores, then complete the groups they are in."""
    con.execute(f"delete from {MATCH_PAIRS} where record_id_l in (select record_id from {DELTA}) "
                f"or record_id_r in (select record_id from {DELTA})")
    if not con.execute(f"select count(*) from {DELTA} where present").fetchall()[0][0]:
        return  # only deletions: nothing to score
    tf: dict[str, pa.Table] = {}  # term frequencies of all records, counted once for both linkers
    delta = con.sql(f"select record_id from {DELTA} where present").to_arrow_table()["record_id"]
    _add_pairs(con, score_delta(delta_linker(records, delta, model, tf), model, floor))
    linked_component_records(con, strong_pairs(cut), f"select record_id from {DELTA} where present", "_match_groups")
    groups = con.sql(f"""select component as cluster_id, record_id as unique_id from _match_groups
        qualify count(*) over (partition by component) between 3 and {int(complete_up_to)}""").to_arrow_table()
    known = con.sql(f"""select record_id_l as unique_id_l, record_id_r as unique_id_r from {MATCH_PAIRS}
        semi join _match_groups g on g.record_id = record_id_l""").to_arrow_table()
    con.execute("drop table _match_groups")
    if groups.num_rows:
        _add_pairs(con, score_groups(records, model, tf, groups, known, floor))


def _add_pairs(con: duckdb.DuckDBPyConnection, pairs: pa.Table) -> None:
    con.register("_match_new", pairs)
    con.execute(f"""insert into {MATCH_PAIRS} select record_id_l, record_id_r, match_probability, match_weight,
        explanation::json from _match_new""")
    con.unregister("_match_new")
