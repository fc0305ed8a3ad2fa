"""The matching stage as one plain function: staged records -> model -> match_pairs + review queue."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cdp.config import IdentityConfig
from cdp.schema import MATCH_PAIRS
from identity.engine import DUCKDB, Engine
from identity.labels import refine, threshold, used
from identity.model import ModelStore, model_for, read_input
from identity.predict import score, write_match_pairs
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


def match(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig, store: ModelStore, retrain: bool = False,
          with_labels: bool = False, engine: Engine = DUCKDB) -> MatchStats:
    """Score the staged records with the current model (training one first if asked or missing), refined
    by the stewards' labels when asked (`with_labels`) or once there are enough (identity.labels).
    Splink's training and scoring run on `engine`; the tables stay in the warehouse."""
    records = read_input(con)
    if records.num_rows < MIN_RECORDS:  # nothing to learn from or to pair; the tables still exist
        write_match_pairs(con, NO_PAIRS)
        return MatchStats(records.num_rows, 0, 0, refresh_candidates(con, cfg.review_band), "", False, 0,
                          cfg.threshold)
    model, path, trained = model_for(store, records, retrain, engine)
    model, refined = refine(con, store, records, model, cfg, required=with_labels, engine=engine)
    path = refined or path
    cut = threshold(model, cfg.threshold)
    floor = min(cfg.review_band[0], cut)
    pairs = score(records, model, floor, cut, complete_up_to=2 * cfg.max_cluster_size, engine=engine)
    write_match_pairs(con, pairs)
    review_open = refresh_candidates(con, cfg.review_band)
    links = con.execute(f"select count(*) from {MATCH_PAIRS} where match_probability >= ?", [cut])
    return MatchStats(records.num_rows, pairs.num_rows, links.fetchall()[0][0], review_open, path.name,
                      trained or refined is not None, used(model), cut)
