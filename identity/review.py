"""The stewards' queue: pairs the model is unsure about, kept across runs once decided."""

from __future__ import annotations

import duckdb

from cdp.schema import CLUSTERS, MATCH_PAIRS, REVIEW_CANDIDATES

CANDIDATE_ID = "substr(md5(record_id_l || '|' || record_id_r), 1, 16)"
"""SQL: a candidate's stable id, the same pair giving the same id on every run."""


def refresh_candidates(con: duckdb.DuckDBPyConnection, band: tuple[float, float]) -> int:
    """Replace the open candidates with this run's pairs scored in [low, high); decided ones stay.

    Returns the number of open candidates.
    """
    con.execute(f"""create table if not exists {REVIEW_CANDIDATES} (
        candidate_id VARCHAR primary key, record_id_l VARCHAR, record_id_r VARCHAR,
        match_probability DOUBLE, explanation JSON, status VARCHAR)""")
    con.execute(f"delete from {REVIEW_CANDIDATES} where status = 'open'")
    con.execute(f"""insert into {REVIEW_CANDIDATES}
        select {CANDIDATE_ID}, record_id_l, record_id_r, match_probability, explanation, 'open'
        from {MATCH_PAIRS} p
        where match_probability >= ? and match_probability < ?
          and {CANDIDATE_ID} not in (select candidate_id from {REVIEW_CANDIDATES})""", list(band))
    return _open(con)


def queue_split_links(con: duckdb.DuckDBPyConnection, threshold: float) -> int:
    """Also queue the links the clustering guards refused: scored as a match, yet in two customers.

    Returns the number of open candidates.
    """
    con.execute(f"""insert into {REVIEW_CANDIDATES}
        select {CANDIDATE_ID}, record_id_l, record_id_r, match_probability, explanation, 'open'
        from {MATCH_PAIRS} p
        join {CLUSTERS} l on l.record_id = p.record_id_l join {CLUSTERS} r on r.record_id = p.record_id_r
        where p.match_probability >= ? and l.cluster_id <> r.cluster_id
          and {CANDIDATE_ID} not in (select candidate_id from {REVIEW_CANDIDATES})""", [threshold])
    return _open(con)


def _open(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"select count(*) from {REVIEW_CANDIDATES} where status = 'open'").fetchall()[0][0]
