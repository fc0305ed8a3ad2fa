"""Incremental identity: after new, changed and deleted records, a plain run agrees with a full one."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from cdp.config import Config, IdentityConfig, SourceConfig
from cdp.resources import FULL_RUN_TAG, WarehouseResource
from cdp.schema import DIRTY_ALL, DIRTY_CUSTOMERS, STEWARD_DECISIONS
from identity.assets import build_defs
from identity.cluster import cluster_changed
from identity.golden import golden_changed
from identity.ids import assign_changed
from identity.incremental import forget_records, save_snapshot
from identity.matching import match
from identity.model import ModelStore
from identity.review import import_decisions
from identity.traits import traits_changed
from tests.identity.population import population
from tests.utils.staged import write_staged

CFG = IdentityConfig()


def resolve(con: duckdb.DuckDBPyConnection, store: ModelStore, full: bool = False, run: str = "r") -> dict[str, str]:
    """Run the identity stages as the assets do; returns each stage's mode."""
    stats = match(con, CFG, store, full=full)
    _, clusters = cluster_changed(con, stats.threshold, CFG.max_cluster_size)
    _, customers = assign_changed(con, run)
    golden = golden_changed(con, CFG)["mode"]
    traits = traits_changed(con)["mode"]
    return {"match": stats.mode, "clusters": clusters, "customers": customers, "golden": str(golden),
            "traits": str(traits)}


def changed_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The population after a day of changes: the last 3% are new, every 40th record got a new email and
    every 97th left its source."""
    out = []
    for k, row in enumerate(rows):
        if k % 97 == 5:
            continue
        out.append(row | {"email": f"new{k}@changed.example"} if k % 40 == 3 else row)
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A warehouse resolved on 97% of the population, then changed and resolved incrementally, beside a copy
    of it resolved in full from the same state and model."""
    folder = tmp_path_factory.mktemp("incremental")
    store = ModelStore(folder / "models")
    rows, _ = population()
    cut = int(len(rows) * 0.97)
    path, copy = folder / "incremental.duckdb", folder / "full.duckdb"
    with duckdb.connect(str(path)) as con:
        write_staged(con, rows[:cut])
        first = resolve(con, store, run="r1")
        con.execute(f"delete from {DIRTY_CUSTOMERS}")  # as a publish leaves it
        write_staged(con, changed_rows(rows))
    shutil.copy(path, copy)
    with duckdb.connect(str(path)) as con:
        modes = resolve(con, store, run="r2")
    with duckdb.connect(str(copy)) as con:
        full = resolve(con, store, full=True, run="r2")
    yield {"first": first, "modes": modes, "full": full, "path": path, "copy": copy, "store": store,
           "rows": rows, "cut": cut}


def read(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_modes(runs: dict[str, Any]) -> None:
    assert set(runs["first"].values()) == {"full"}  # no snapshot yet
    assert set(runs["modes"].values()) == {"incremental"}
    assert set(runs["full"].values()) == {"full"}  # tagged full


def test_delta_pairs_score_as_in_a_full_run(runs: dict[str, Any]) -> None:
    changed = "(select record_id from staged where email like 'new%')"
    sql = f"""select record_id_l, record_id_r, match_probability, match_weight, explanation::VARCHAR from match_pairs
              where record_id_l in {changed} or record_id_r in {changed} order by 1, 2"""
    incremental, full = read(runs["path"], sql), read(runs["copy"], sql)
    assert len(incremental) > 100
    assert incremental == full


def test_customers_agree_with_a_full_run(runs: dict[str, Any]) -> None:
    sql = "select record_id, cluster_id from clusters order by 1"
    incremental, full = read(runs["path"], sql), read(runs["copy"], sql)
    assert len(incremental) == len(full) == len(changed_rows(runs["rows"]))
    agree = sum(a == b for a, b in zip(incremental, full, strict=True))
    assert agree / len(full) >= 0.999
    golden = "select * from golden order by customer_id"
    assert read(runs["path"], golden) == read(runs["copy"], golden)
    lineage = "select * from lineage order by all"
    assert read(runs["path"], lineage) == read(runs["copy"], lineage)
    traits = "select * from traits order by customer_id"
    assert read(runs["path"], traits) == read(runs["copy"], traits)


def test_the_snapshot_is_what_a_full_save_writes(runs: dict[str, Any], tmp_path: Path) -> None:
    """The incremental run replaced only its delta's snapshot rows: the snapshot equals one written whole."""
    sql = "select record_id, row_hash, customer_id from identity_snapshot order by 1"
    kept = read(runs["path"], sql)
    copy = tmp_path / "snapshot.duckdb"
    shutil.copy(runs["path"], copy)
    with duckdb.connect(str(copy)) as con:
        save_snapshot(con, "any")
    assert len(kept) == len(changed_rows(runs["rows"]))
    assert kept == read(copy, sql)


def test_deleted_records_leave_every_table(runs: dict[str, Any]) -> None:
    gone = [r["record_id"] for k, r in enumerate(runs["rows"]) if k % 97 == 5 and k < runs["cut"]]
    ids = ", ".join(f"'{g}'" for g in gone)
    for table, column in (("clusters", "record_id"), ("record_customer", "record_id"),
                          ("match_pairs", "record_id_l"), ("match_pairs", "record_id_r")):
        assert read(runs["path"], f"select count(*) from {table} where {column} in ({ids})") == [(0,)]
    assert read(runs["path"], "select count(*) from golden where customer_id not in (select customer_id "
                              "from customers)") == [(0,)]


def test_dirty_customers_name_the_touched_ones(runs: dict[str, Any]) -> None:
    dirty = {c for c, in read(runs["path"], f"select customer_id from {DIRTY_CUSTOMERS}")}
    assert DIRTY_ALL not in dirty
    customers = read(runs["path"], "select count(*) from customers")[0][0]
    assert 0 < len(dirty) < customers / 2
    new = read(runs["path"], "select customer_id from id_history where run_id = 'r2'")
    assert {c for c, in new} <= dirty  # new, merged, split and gone ids
    changed = read(runs["path"], "select distinct rc.customer_id from record_customer rc join staged s "
                                 "using (record_id) where s.email like 'new%'")
    assert {c for c, in changed} <= dirty
    assert read(runs["copy"], f"select customer_id from {DIRTY_CUSTOMERS}") == [(DIRTY_ALL,)]


def test_nothing_changed_changes_nothing(runs: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "again.duckdb"
    shutil.copy(runs["path"], path)
    with duckdb.connect(str(path)) as con:
        con.execute(f"delete from {DIRTY_CUSTOMERS}")
        before = con.execute("select * from clusters order by 1").fetchall()
        stats = match(con, CFG, runs["store"])
        assert (stats.mode, stats.reason) == ("incremental", "0 records new, changed or deleted")
        resolve(con, runs["store"], run="r3")
        assert con.execute("select * from clusters order by 1").fetchall() == before
        assert con.execute(f"select count(*) from {DIRTY_CUSTOMERS}").fetchall() == [(0,)]


def test_a_steward_decision_between_runs_is_honoured(runs: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "decided.duckdb"
    shutil.copy(runs["path"], path)
    with duckdb.connect(str(path)) as con:
        pair = con.execute("""select min(record_id), max(record_id) from clusters
            where cluster_id = (select cluster_id from clusters group by all having count(*) = 2 limit 1)""")
        left, right = pair.fetchall()[0]
        import_decisions(con, pa.table({"record_id_l": [left], "record_id_r": [right], "decision": ["no_match"],
                                        "who": ["ann"], "note": [None], "at": [dt.datetime(2026, 1, 1)]}))
        modes = resolve(con, runs["store"], run="r3")
        assert modes["clusters"] == "incremental"
        split = con.execute(f"select count(distinct customer_id) from record_customer where record_id in "
                            f"('{left}', '{right}')").fetchall()
        assert split == [(2,)]
        assert con.execute(f"select count(*) from {STEWARD_DECISIONS}").fetchall() == [(1,)]


def test_the_assets_say_their_mode_and_the_full_tag_redoes_everything(runs: dict[str, Any], tmp_path: Path) -> None:
    source = SourceConfig.model_validate(
        {"connector": "csv", "path": "unused.csv", "key": "id", "fields": {"full_name": "name"}})
    cfg = Config(warehouse=str(tmp_path / "warehouse.duckdb"), sources={"case": source})
    shutil.copy(runs["path"], cfg.warehouse_path)
    shutil.copytree(runs["store"].folder, cfg.state_dir / "models")
    assets = [a for a in build_defs(cfg).assets or [] if isinstance(a, dg.AssetsDefinition)]

    def modes(tags: dict[str, str]) -> dict[str, Any]:
        result = dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(), tags=tags,
                                resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})
        assert result.success
        return {m.asset_key.path[-1]: m.materialization.metadata["mode"].value
                for m in result.get_asset_materialization_events()}

    assert set(modes({FULL_RUN_TAG: "true"}).values()) == {"full"}
    with duckdb.connect(str(cfg.warehouse_path), read_only=True) as con:
        assert (DIRTY_ALL,) in con.execute(f"select * from {DIRTY_CUSTOMERS}").fetchall()
    assert set(modes({}).values()) == {"incremental"}


def test_a_record_purged_between_runs_leaves_its_customers_golden(runs: dict[str, Any], tmp_path: Path) -> None:
    """An erasure deletes the record from staged, the identity tables and the snapshot (serving.suppress), and
    leaves its customer's other records pending, so the next run rebuilds that customer's profile."""
    path = tmp_path / "purged.duckdb"
    shutil.copy(runs["path"], path)
    with duckdb.connect(str(path)) as con:
        erased, kept, email = con.execute("""
            select a.record_id, b.record_id, a.email from record_customer ra join record_customer rb using (customer_id)
            join staged a on a.record_id = ra.record_id join staged b on b.record_id = rb.record_id
            join lineage l on l.customer_id = ra.customer_id and l.attribute = 'email' and l.value = a.email
            where a.email is not null and b.email is distinct from a.email
              and ra.customer_id in (select customer_id from customers where size = 2)
            order by 1 limit 1""").fetchall()[0]
        forget_records(con, f"select '{erased}' as record_id")
        for table, where in (("staged", "record_id = $r"), ("clusters", "record_id = $r"),
                             ("record_customer", "record_id = $r"),
                             ("match_pairs", "record_id_l = $r or record_id_r = $r"),
                             ("lineage", "source || ':' || source_id = $r")):
            con.execute(f"delete from {table} where {where}", {"r": erased})
        assert resolve(con, runs["store"], run="r3")["golden"] == "incremental"
        golden = con.execute("select g.email from golden g join record_customer rc using (customer_id) "
                             "where rc.record_id = ?", [kept]).fetchall()
        assert golden and golden[0][0] != email
