"""The review queue: pairs in the band, stable ids, decided candidates kept across runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

from identity.cluster import cluster_records
from identity.review import import_decisions, queue_split_links, refresh_candidates
from serving.decisions import DECISION_SCHEMA
from tests.identity.test_cluster import write_pairs
from tests.utils.staged import staged_row, write_staged


def test_band_pairs_are_queued_with_stable_ids_and_decisions_survive_a_rerun() -> None:
    con = duckdb.connect()
    write_pairs(con, [("s:a", "s:b", 0.95), ("s:a", "s:c", 0.7), ("s:b", "s:c", 0.55), ("s:c", "s:d", 0.3)])
    assert refresh_candidates(con, (0.5, 0.9)) == 2
    first = {(left, right): cid for left, right, cid in
             con.execute("select record_id_l, record_id_r, candidate_id from review_candidates").fetchall()}
    con.execute("update review_candidates set status = 'decided' where record_id_r = 's:b' or record_id_l = 's:b'")

    write_pairs(con, [("s:a", "s:c", 0.72), ("s:b", "s:c", 0.6), ("s:c", "s:d", 0.8)])
    assert refresh_candidates(con, (0.5, 0.9)) == 2
    rows = con.execute("select record_id_l, record_id_r, candidate_id, status, match_probability "
                       "from review_candidates order by all").fetchall()
    assert [(left, right, status) for left, right, _, status, _ in rows] == [
        ("s:a", "s:c", "open"), ("s:b", "s:c", "decided"), ("s:c", "s:d", "open")]
    assert rows[0][2] == first[("s:a", "s:c")] and rows[1][2] == first[("s:b", "s:c")]  # same pair, same id
    assert rows[0][4] == 0.72  # open candidates carry this run's score


def two_annas_chained(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]],
                      pairs: list[tuple[str, str, float]]) -> None:
    """Records a and c carry different tax ids and b links both: the guards refuse b-c. Then cluster."""
    write_staged(con, [
        staged_row("s", "a", first_name="ANNA", last_name="LEE", tax_id="111223333"),
        staged_row("s", "b", first_name="ANNA", last_name="LEE"),
        staged_row("s", "c", first_name="ANNA", last_name="LEE", tax_id="999887777"),
        *rows,
    ])
    write_pairs(con, [("s:a", "s:b", 0.99), ("s:b", "s:c", 0.95), *pairs])
    refresh_candidates(con, (0.5, 0.9))
    cluster_records(con, threshold=0.9, max_size=30)


def test_links_the_guards_refused_are_queued_for_review() -> None:
    con = duckdb.connect()
    two_annas_chained(con, [], [])
    assert queue_split_links(con, 0.9) == 1
    assert con.execute("select record_id_l, record_id_r, status from review_candidates").fetchall() == [
        ("s:b", "s:c", "open")]


def test_an_imported_decision_keeps_its_candidate_in_the_queue_as_decided() -> None:
    con = duckdb.connect()
    two_annas_chained(con, [staged_row("s", "d", first_name="ANNE", last_name="LEE")], [("s:c", "s:d", 0.6)])
    assert queue_split_links(con, 0.9) == 2  # the band pair c-d and the refused link b-c
    assert refresh_candidates(con, (0.5, 0.9)) == 1  # the next run's matching rebuilds the open ones: b-c is gone
    decided = pa.Table.from_pylist([
        {"record_id_l": "s:b", "record_id_r": "s:c", "decision": "no_match", "who": "steward:1", "note": None,
         "at": dt.datetime(2026, 1, 1)},
        {"record_id_l": "s:c", "record_id_r": "s:d", "decision": "match", "who": "steward:1", "note": "same woman",
         "at": dt.datetime(2026, 1, 2)}], DECISION_SCHEMA)
    assert import_decisions(con, decided) == 2
    assert import_decisions(con, decided) == 0
    assert con.execute("select record_id_l, record_id_r, status from review_candidates order by all").fetchall() == [
        ("s:b", "s:c", "decided"), ("s:c", "s:d", "decided")]


def test_a_refresh_leaves_the_queue_a_fresh_one_would_build() -> None:
    """Kept, rescored, re-explained, vanished and new band pairs, a refused link and a decided pair: the queue after
    a refresh over the last run's holds the open candidates a queue built from nothing would, and the decided one."""
    def next_run(con: duckdb.DuckDBPyConnection) -> None:
        write_pairs(con, [("s:a", "s:c", 0.7), ("s:c", "s:d", 0.65), ("s:d", "s:e", 0.55), ("s:e", "s:f", 0.8),
                          ("s:b", "s:c", 0.95)])
        con.execute("""update match_pairs set explanation = '[{"comparison": "email"}]' where record_id_l = 's:a'""")

    con = duckdb.connect()
    two_annas_chained(con, [], [("s:a", "s:c", 0.7), ("s:c", "s:d", 0.6), ("s:d", "s:e", 0.55), ("s:a", "s:e", 0.6)])
    queue_split_links(con, 0.9)
    con.execute("update review_candidates set status = 'decided' where record_id_l = 's:d'")
    decided = con.execute("select * from review_candidates where status = 'decided' order by all").fetchall()
    next_run(con)
    fresh = duckdb.connect()
    next_run(fresh)

    assert refresh_candidates(con, (0.5, 0.9)) == 3  # a-c re-explained, c-d rescored, e-f new; b-c and a-e gone
    refresh_candidates(fresh, (0.5, 0.9))
    query = "select candidate_id, record_id_l, record_id_r, match_probability, explanation::VARCHAR from " \
            "review_candidates where status = 'open' and record_id_l <> 's:d' order by all"
    assert con.execute(query).fetchall() == fresh.execute(query).fetchall()
    assert con.execute("select * from review_candidates where status = 'decided' order by all").fetchall() == decided
