"""The review queue: pairs in the band, stable ids, decided candidates kept across runs."""

from __future__ import annotations

import duckdb

from identity.review import refresh_candidates
from tests.identity.test_cluster import write_pairs


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
