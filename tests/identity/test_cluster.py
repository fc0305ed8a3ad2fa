"""Clustering guards on hand-made pairs: no model, just the rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.config import IdentityConfig
from cdp.schema import MATCH_PAIRS, STEWARD_DECISIONS, TABLES, create_table, ensure_tables
from identity import cluster
from identity.cluster import cluster_records
from identity.matching import match
from identity.model import ModelStore
from tests.utils.staged import staged_row, write_staged


def clusters_of(con: duckdb.DuckDBPyConnection) -> list[set[str]]:
    rows = con.execute("select cluster_id, list(record_id order by record_id) from clusters group by 1").fetchall()
    return sorted((set(ids) for _, ids in rows), key=lambda s: sorted(s))


def write_pairs(con: duckdb.DuckDBPyConnection, pairs: list[tuple[str, str, float]]) -> None:
    create_table(con, TABLES[MATCH_PAIRS], replace=True)
    for pair in pairs:
        con.execute("insert into match_pairs values (?, ?, ?, 0, '[]')", list(pair))


def decide(con: duckdb.DuckDBPyConnection, left: str, right: str, decision: str) -> None:
    ensure_tables(con, STEWARD_DECISIONS)
    con.execute("insert into steward_decisions values (?, ?, ?, 'steward', '', now())", [left, right, decision])


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    write_staged(con, [
        staged_row("s", "a", first_name="ANNA", last_name="LEE", tax_id="111223333"),
        staged_row("s", "b", first_name="ANNA", last_name="LEE"),
        staged_row("s", "c", first_name="ANNA", last_name="LEE", tax_id="999887777"),
        staged_row("s", "d", first_name="JOHN", last_name="KIM", birth_date=dt.date(1960, 3, 1)),
        staged_row("s", "e", first_name="JOHN", last_name="KIM"),
        staged_row("s", "f", first_name="JOHN", last_name="KIM", birth_date=dt.date(1990, 7, 9)),
        staged_row("s", "g", first_name="MARY", last_name="ROE"),
    ])
    return con


def test_every_record_gets_a_cluster_singletons_included(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [])
    stats = cluster_records(con, threshold=0.9, max_size=30)
    assert stats.clusters == 7 and len(clusters_of(con)) == 7
    assert con.execute("select count(*) from clusters where record_id = cluster_id").fetchall()[0][0] == 7


def test_chain_with_two_tax_ids_is_cut_at_its_weakest_link(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:a", "s:b", 0.99), ("s:b", "s:c", 0.95)])
    stats = cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:a", "s:b"} in clusters_of(con) and {"s:c"} in clusters_of(con)
    assert stats.components_split == 1 and stats.rejected == {"tax_id": 1}


def test_father_and_son_bridged_by_a_record_without_birth_date_stay_apart(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:e", "s:f", 0.97), ("s:d", "s:e", 0.93)])
    cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:e", "s:f"} in clusters_of(con) and {"s:d"} in clusters_of(con)


def test_a_pair_the_model_linked_directly_is_not_second_guessed(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:a", "s:c", 0.99)])
    cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:a", "s:c"} in clusters_of(con)


def test_links_below_threshold_do_not_merge(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:a", "s:b", 0.89)])
    cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:a"} in clusters_of(con)


def test_size_bound_splits_a_long_chain() -> None:
    con = duckdb.connect()
    write_staged(con, [staged_row("s", f"{i:02d}", first_name="ANNA", last_name="LEE") for i in range(10)])
    write_pairs(con, [(f"s:{i:02d}", f"s:{i + 1:02d}", 0.95 + i / 1000) for i in range(9)])
    stats = cluster_records(con, threshold=0.9, max_size=4)
    assert stats.largest <= 4 and stats.rejected["size"] >= 2


def test_steward_cannot_link_splits_and_must_link_merges(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:d", "s:e", 0.99), ("s:e", "s:g", 0.95)])
    decide(con, "s:e", "s:g", "no_match")
    decide(con, "s:a", "s:g", "match")
    stats = cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:d", "s:e"} in clusters_of(con)
    assert {"s:a", "s:g"} in clusters_of(con)
    assert stats.rejected == {"steward": 1}


def test_a_cannot_link_to_another_component_is_kept_without_rebuilding_it(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:d", "s:e", 0.99)])  # d and e differ in birth date: their component is checked
    decide(con, "s:e", "s:g", "no_match")  # g stands alone, unchecked
    cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:d", "s:e"} in clusters_of(con) and {"s:g"} in clusters_of(con)


def test_latest_steward_decision_wins(con: duckdb.DuckDBPyConnection) -> None:
    write_pairs(con, [("s:a", "s:b", 0.99)])
    decide(con, "s:a", "s:b", "no_match")
    con.execute('update steward_decisions set "at" = "at" - interval 1 day')
    decide(con, "s:a", "s:b", "match")
    cluster_records(con, threshold=0.9, max_size=30)
    assert {"s:a", "s:b"} in clusters_of(con)


def test_an_empty_warehouse_gives_empty_identity_tables(tmp_path: Path) -> None:
    con = duckdb.connect()
    write_staged(con, [])
    stats = match(con, IdentityConfig(), ModelStore(tmp_path / "models"))
    assert stats.records == 0 and stats.pairs == 0 and not stats.trained
    assert cluster_records(con, threshold=0.9, max_size=30).clusters == 0
    assert con.execute("select count(*) from clusters").fetchall() == [(0,)]


# Values close enough to pass the guards and far enough to trip them: typos, a nickname's root, a swapped day and month.
FIRSTS = [("ROBERT", "ROBERT"), ("ROBRET", "ROBERT"), ("BOB", "ROBERT"), ("ROSE", "ROSE"), ("R", "R")]
LASTS = ["LEE", "LEA", "KIM", None]
DOBS = [dt.date(1980, 3, 4), dt.date(1980, 4, 3), dt.date(1980, 3, 5), dt.date(1955, 1, 1), None]
TAXES = ["111223333", "111223334", "999887777", None]
people = st.lists(st.tuples(st.sampled_from(FIRSTS), st.sampled_from(LASTS), st.sampled_from(DOBS),
                            st.sampled_from(TAXES)), min_size=2, max_size=14)


@given(people=people, data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_components_left_whole_are_those_the_greedy_merge_keeps_whole(
        people: list[tuple[tuple[str, str], str | None, dt.date | None, str | None]], data: st.DataObject,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Clustering rebuilds only the components whose values are not all compatible (or too big, or holding a
    cannot-link); rebuilding every checked component instead gives the same clusters."""
    con = duckdb.connect()
    write_staged(con, [staged_row("s", f"{i:02d}", first_name=first, first_name_root=root, last_name=last,
                                  birth_date=dob, tax_id=tax)
                       for i, ((first, root), last, dob, tax) in enumerate(people)])
    ids = [f"s:{i:02d}" for i in range(len(people))]
    links = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids),
                                         st.floats(0.5, 1.0)), max_size=30))
    write_pairs(con, [(min(a, b), max(a, b), p) for a, b, p in {(min(a, b), max(a, b)): (a, b, p)
                                                                 for a, b, p in links if a != b}.values()])
    if data.draw(st.booleans()):
        decide(con, ids[0], ids[1], "no_match")
    max_size = data.draw(st.integers(3, 12))
    cluster_records(con, threshold=0.6, max_size=max_size)
    quick = clusters_of(con)
    with monkeypatch.context() as patched:
        patched.setattr(cluster, "_compatible", lambda values: False)  # every checked component rebuilt
        cluster_records(con, threshold=0.6, max_size=max_size)
    assert clusters_of(con) == quick
