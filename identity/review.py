"""The stewards' queue: pairs the model is unsure about, kept across runs once decided."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from cdp.schema import CLUSTERS, MATCH_PAIRS, REVIEW_CANDIDATES, STEWARD_DECISIONS, ensure_tables
from cdp.warehouse import table_exists

CANDIDATE_ID = "substr(md5(record_id_l || '|' || record_id_r), 1, 16)"
"""SQL: a candidate's stable id, the same pair giving the same id on every run."""


def refresh_candidates(con: duckdb.DuckDBPyConnection, band: tuple[float, float]) -> int:
    """Replace the open candidates with this run's pairs scored in [low, high); decided ones stay.

    Written as a difference: open candidates that are still this run's band pairs, with the same score and
    explanation, stay as they are, so a run that rescored a few records rewrites only their candidates (the
    queue's explanations are tens of MB at a million records, and rewriting them cost seconds each run).
    Returns the number of open candidates.
    """
    ensure_tables(con, REVIEW_CANDIDATES)
    con.execute(f"""create or replace temp table _review_band as
        select {CANDIDATE_ID} as candidate_id, record_id_l, record_id_r, match_probability, explanation
        from {MATCH_PAIRS} where match_probability >= ? and match_probability < ?""", list(band))
    con.execute(f"""delete from {REVIEW_CANDIDATES} c where status = 'open' and not exists (
        select 1 from _review_band b where b.candidate_id = c.candidate_id and b.record_id_l = c.record_id_l
            and b.record_id_r = c.record_id_r and b.match_probability = c.match_probability
            and b.explanation::VARCHAR = c.explanation::VARCHAR)""")
    con.execute(f"""insert into {REVIEW_CANDIDATES}
        select *, 'open' from _review_band where candidate_id not in (select candidate_id from {REVIEW_CANDIDATES})""")
    con.execute("drop table _review_band")
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


def import_decisions(con: duckdb.DuckDBPyConnection, decisions: pa.Table) -> int:
    """Append the stewards' decisions not yet in `steward_decisions`; their candidates stay in the queue, decided.

    `decisions` has the table's columns (record_id_l, record_id_r, decision, who, note, at); a decision
    already imported (same pair, steward and time) is skipped, so importing twice changes nothing.
    Clustering then takes each pair's latest decision as a must-link or a cannot-link.
    Returns the number of decisions added.
    """
    ensure_tables(con, STEWARD_DECISIONS)
    before = con.execute(f"select count(*) from {STEWARD_DECISIONS}").fetchall()[0][0]
    con.register("incoming_decisions", decisions)
    try:
        _check_decisions(con)
        con.execute(f"""insert into {STEWARD_DECISIONS}
            select distinct i.record_id_l, i.record_id_r, i.decision, i.who, i.note, i."at" from incoming_decisions i
            where not exists (
                select 1 from {STEWARD_DECISIONS} d where d.record_id_l = i.record_id_l
                  and d.record_id_r = i.record_id_r and d.who = i.who and d."at" = i."at")""")
    finally:
        con.unregister("incoming_decisions")
    if table_exists(con, REVIEW_CANDIDATES):
        _keep_decided(con)
    return con.execute(f"select count(*) from {STEWARD_DECISIONS}").fetchall()[0][0] - before


def _keep_decided(con: duckdb.DuckDBPyConnection) -> None:
    """Mark decided pairs' candidates decided, re-adding (from this run's scores) those this run's
    refresh dropped, e.g. a link the guards refused, which is queued anew after each clustering."""
    decided = f"select {CANDIDATE_ID} from {STEWARD_DECISIONS}"
    con.execute(f"update {REVIEW_CANDIDATES} set status = 'decided' where status = 'open' "
                f"and candidate_id in ({decided})")
    if table_exists(con, MATCH_PAIRS):
        con.execute(f"""insert into {REVIEW_CANDIDATES}
            select {CANDIDATE_ID}, record_id_l, record_id_r, match_probability, explanation, 'decided'
            from {MATCH_PAIRS} p where {CANDIDATE_ID} in ({decided})
              and {CANDIDATE_ID} not in (select candidate_id from {REVIEW_CANDIDATES})""")


def _check_decisions(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""select record_id_l, record_id_r, who, decision from incoming_decisions
        where decision is null or decision not in ('match', 'no_match') limit 1""").fetchall()
    if bad:
        left, right, who, decision = bad[0]
        raise ValueError(f"review_decisions: the decision by {who} on {left} / {right} is {decision!r}, "
                         "not 'match' or 'no_match'")


def _open(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"select count(*) from {REVIEW_CANDIDATES} where status = 'open'").fetchall()[0][0]
