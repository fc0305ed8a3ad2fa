"""Stable customer ids across runs: new, merge, split, gone, redirects, the counter, stability."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cdp.config import Config, SourceConfig
from cdp.resources import WarehouseResource
from cdp.warehouse import open_warehouse
from identity.assets import customers, golden_asset, traits
from identity.ids import IdStats, assign_customer_ids
from tests.utils.staged import staged_row, write_staged
from tests.utils.warehouse import event, write_clusters, write_interactions


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        yield con


def run(con: duckdb.DuckDBPyConnection, run_id: str, *groups: str) -> dict[str, str]:
    """Write clusters from groups like "a b c" and assign ids; return record -> customer id."""
    write_clusters(con, [g.split() for g in groups])
    assign_customer_ids(con, run_id)
    return dict(con.execute("select record_id, customer_id from record_customer").fetchall())


def history(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[str, str, str | None, str]]:
    return con.execute("""select event, customer_id, other_id, detail from id_history where run_id = ?
                          order by event, customer_id""", [run_id]).fetchall()


def redirects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select from_id, to_id from id_redirects").fetchall())


def test_first_run_issues_sequential_ids_in_cluster_order(con: duckdb.DuckDBPyConnection) -> None:
    ids = run(con, "r1", "b c", "a", "d e f")
    assert ids == {"a": "C000000001", "b": "C000000002", "c": "C000000002",
                   "d": "C000000003", "e": "C000000003", "f": "C000000003"}
    assert history(con, "r1") == [("new", "C000000001", None, "1 record"), ("new", "C000000002", None, "2 records"),
                                  ("new", "C000000003", None, "3 records")]
    assert con.execute("select * from customers order by customer_id").fetchall() == [
        ("C000000001", "r1", 1), ("C000000002", "r1", 2), ("C000000003", "r1", 3)]


def test_unchanged_run_keeps_every_id_and_writes_no_history(con: duckdb.DuckDBPyConnection) -> None:
    first = run(con, "r1", "a b", "c", "d e")
    customers = con.execute("select * from customers order by customer_id").fetchall()
    assert run(con, "r2", "a b", "c", "d e") == first
    assert history(con, "r2") == []
    assert con.execute("select * from customers order by customer_id").fetchall() == customers
    assert con.execute("select last_number from id_counter").fetchall() == [(3,)]


def test_merge_keeps_the_oldest_id_and_redirects_the_other(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a", "b c d")  # a: C1 (older, smaller), b c d: C2
    ids = run(con, "r2", "a b c d")
    assert set(ids.values()) == {"C000000001"}
    assert redirects(con) == {"C000000002": "C000000001"}
    assert history(con, "r2") == [("merge", "C000000001", "C000000002", "3 records joined")]
    assert con.execute("select * from customers").fetchall() == [("C000000001", "r1", 4)]


def test_split_leaves_the_id_with_the_largest_part(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a b c")
    ids = run(con, "r2", "a", "b c")
    assert ids == {"a": "C000000002", "b": "C000000001", "c": "C000000001"}
    assert history(con, "r2") == [("new", "C000000002", None, "1 record"),
                                  ("split", "C000000001", "C000000002", "1 record moved")]
    assert redirects(con) == {}


def test_split_into_equal_parts_is_decided_by_the_smallest_record(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a b c d")
    assert run(con, "r2", "c d", "a b") == {"a": "C000000001", "b": "C000000001", "c": "C000000002",
                                             "d": "C000000002"}


def test_split_and_merge_in_one_run(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a b c", "d")  # C1 = a b c, C2 = d
    ids = run(con, "r2", "a b d", "c")  # C1's largest part absorbs d; c splits off
    assert ids == {"a": "C000000001", "b": "C000000001", "d": "C000000001", "c": "C000000003"}
    assert history(con, "r2") == [("merge", "C000000001", "C000000002", "1 record joined"),
                                  ("new", "C000000003", None, "1 record"),
                                  ("split", "C000000001", "C000000003", "1 record moved")]
    assert redirects(con) == {"C000000002": "C000000001"}


def test_part_moving_to_another_existing_customer_is_a_split(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a b c", "d e")
    ids = run(con, "r2", "a b", "c d e")
    assert ids == {"a": "C000000001", "b": "C000000001", "c": "C000000002", "d": "C000000002", "e": "C000000002"}
    assert history(con, "r2") == [("split", "C000000001", "C000000002", "1 record moved")]


def test_redirect_chains_point_at_the_live_survivor(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a", "b", "c")
    run(con, "r2", "a", "b c")  # C3 -> C2
    run(con, "r3", "a b c")  # C2 -> C1, and C3's redirect follows to C1
    assert redirects(con) == {"C000000002": "C000000001", "C000000003": "C000000001"}
    assert con.execute("select run_id from id_redirects where from_id = 'C000000003'").fetchall() == [("r2",)]


def test_vanished_records_leave_and_a_customer_without_records_is_gone(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a b", "c", "d")
    run(con, "r2", "a b", "c d")  # C3 -> C2
    ids = run(con, "r3", "a")  # b vanishes quietly; C2 (and so the redirect from C3) is gone
    assert ids == {"a": "C000000001"}
    assert history(con, "r3") == [("gone", "C000000002", None, "no records left")]
    assert redirects(con) == {}
    assert con.execute("select * from customers").fetchall() == [("C000000001", "r1", 1)]


def test_ids_are_never_reused(con: duckdb.DuckDBPyConnection) -> None:
    run(con, "r1", "a", "b", "c")
    run(con, "r2", "a b")  # C2 merged away, C3 gone
    ids = run(con, "r3", "a b", "x")
    assert ids["x"] == "C000000004"


def test_a_failed_assignment_leaves_the_previous_run_intact(con: duckdb.DuckDBPyConnection) -> None:
    before = run(con, "r1", "a b", "c")
    con.execute("drop table clusters")
    with pytest.raises(duckdb.CatalogException):
        assign_customer_ids(con, "r2")
    assert dict(con.execute("select record_id, customer_id from record_customer").fetchall()) == before
    assert con.execute("select count(*) from id_history").fetchall() == [(2,)]


def synthetic_clusters(con: duckdb.DuckDBPyConnection, people: int) -> None:
    """Records r<person>_<k>: each person has 1 to 4 records, one cluster per person."""
    con.execute("""create or replace table clusters as
        select printf('r%07d_%d', p, k) as record_id, printf('r%07d_0', p) as cluster_id
        from range(?) t(p), range(4) u(k) where k <= hash(p) % 4""", [people])


def test_one_percent_new_records_keep_99_5_percent_of_records_on_their_id(con: duckdb.DuckDBPyConnection) -> None:
    synthetic_clusters(con, 8_000)
    first = assign_customer_ids(con, "r1")
    assert assign_customer_ids(con, "r2").records_moved == 0
    # 1% new records: 60% join an existing person, 30% are new people, 10% bridge two people (a merge)
    new = first.records // 100
    con.execute("""insert into clusters
        select printf('n%07d', i), if(i % 10 between 6 and 8, printf('n%07d', i), printf('r%07d_0', i * 7))
        from range(?) t(i)""", [new])
    con.execute("""update clusters set cluster_id = printf('r%07d_0', i * 7) from range(?) t(i)
                   where i % 10 = 9 and cluster_id = printf('r%07d_0', i * 7 + 1)""", [new])
    stats: IdStats = assign_customer_ids(con, "r3")
    assert stats.merges > 0 and stats.new > 0
    assert stats.records_carried == first.records
    assert stats.kept_share >= 0.995


def test_identity_assets_after_clusters_run_in_dagster_and_report(tmp_path: Path) -> None:
    cfg = Config(warehouse=str(tmp_path / "warehouse.duckdb"), sources={"shop": SourceConfig.model_validate(
        {"connector": "csv", "path": "unused.csv", "key": "id", "fields": {"email": "email"}})})
    with open_warehouse(cfg.warehouse_path) as con:
        write_staged(con, [staged_row("shop", k, email=f"{k}@x.com") for k in "abc"])
        write_clusters(con, [["shop:a", "shop:b"], ["shop:c"]])
        write_interactions(con, [event("shop:a", "orders", "2024-01-01", 5.0)])
    result = dg.materialize([customers, golden_asset(cfg), traits], instance=dg.DagsterInstance.ephemeral(),
                            resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})
    assert result.success
    metadata = {m.asset_key.path[-1]: {k: v.value for k, v in m.materialization.metadata.items()}
                for m in result.get_asset_materialization_events() if m.asset_key}
    assert {k: metadata["customers"][k] for k in ("customers", "new", "merges", "splits", "redirects")} == {
        "customers": 2, "new": 2, "merges": 0, "splits": 0, "redirects": 0}
    assert metadata["golden"]["customers"] == 2 and metadata["traits"]["with_interactions"] == 1


def evolve(rng: random.Random, groups: list[list[str]], fresh: Iterator[str]) -> list[list[str]]:
    """The next run's clusters: some records leave, arrive, move; some clusters split or merge."""
    groups = [list(g) for g in groups]
    for _ in range(rng.randint(1, 4)):
        change = rng.choice(("new", "gone", "move", "split", "merge"))
        if change == "new":
            target = rng.choice(groups) if groups and rng.random() < 0.6 else None
            target.append(next(fresh)) if target is not None else groups.append([next(fresh)])
        elif change == "gone" and groups:
            g = rng.choice(groups)
            g.remove(rng.choice(g))
        elif change == "move" and len(groups) > 1:
            a, b = rng.sample(groups, 2)
            b.append(a.pop(rng.randrange(len(a))))
        elif change == "split" and groups:
            g = rng.choice(groups)
            if len(g) > 1:
                cut = rng.randrange(1, len(g))
                groups.append(g[cut:])
                del g[cut:]
        elif change == "merge" and len(groups) > 1:
            a, b = rng.sample(groups, 2)
            a.extend(b)
            b.clear()
        groups = [g for g in groups if g]
    return groups


def id_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    return {table: sorted(con.execute(f"select * from {table}").fetchall(), key=str)
            for table in ("record_customer", "customers", "id_history", "id_redirects", "id_counter")}


@pytest.mark.parametrize("seed", range(12))
def test_an_incremental_assignment_over_the_moved_records_equals_the_full_one(seed: int) -> None:
    """Told only the records whose cluster_id changed (or that came or went), the assignment grows them to whole
    clusters and previous customers and ends where the full assignment over every record does."""
    rng, counter = random.Random(seed), itertools.count()
    fresh = (f"r{next(counter):03d}" for _ in itertools.count())
    groups = [[next(fresh) for _ in range(rng.randint(1, 4))] for _ in range(15)]
    at = dt.datetime(2026, 1, 1)
    with duckdb.connect() as full, duckdb.connect() as incremental:
        for con in (full, incremental):
            write_clusters(con, groups)
            assign_customer_ids(con, "r0", at)
        for run in range(1, 6):
            before = dict(incremental.execute("select record_id, cluster_id from clusters").fetchall())
            groups = evolve(rng, groups, fresh)
            for con in (full, incremental):
                write_clusters(con, groups)
            after = dict(incremental.execute("select record_id, cluster_id from clusters").fetchall())
            moved = sorted(r for r in before.keys() | after.keys() if before.get(r) != after.get(r)) or ["none"]
            expected = assign_customer_ids(full, f"r{run}", at)
            stats = assign_customer_ids(incremental, f"r{run}", at, changed=f"select unnest({moved!r}) as record_id")
            assert id_tables(incremental) == id_tables(full)
            assert stats == expected

