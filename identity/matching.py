"""The matching stage as one plain function: staged records -> model -> match_pairs + review queue."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cdp.config import IdentityConfig
from cdp.schema import MATCH_PAIRS
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


def match(con: duckdb.DuckDBPyConnection, cfg: IdentityConfig, store: ModelStore, retrain: bool = False) -> MatchStats:
    """Score the staged records with the current model (training one first if asked or missing)."""
    records = read_input(con)
    if records.num_rows < MIN_RECORDS:  # nothing to learn from or to pair; the tables still exist
        write_match_pairs(con, NO_PAIRS)
        return MatchStats(records.num_rows, 0, 0, refresh_candidates(con, cfg.review_band), "", False)
    model, path, trained = model_for(store, records, retrain)
    floor = min(cfg.review_band[0], cfg.threshold)
    pairs = score(records, model, floor, cfg.threshold, complete_up_to=2 * cfg.max_cluster_size)
    write_match_pairs(con, pairs)
    review_open = refresh_candidates(con, cfg.review_band)
    links = con.execute(f"select count(*) from {MATCH_PAIRS} where match_probability >= ?", [cfg.threshold])
    return MatchStats(records.num_rows, pairs.num_rows, links.fetchall()[0][0], review_open, path.name, trained)
