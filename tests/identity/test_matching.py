"""The trained model on a synthetic population: households stay apart, people come together."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cdp.config import Config, SourceConfig
from cdp.resources import WarehouseResource
from cdp.warehouse import open_warehouse
from identity import settings as model_settings
from identity.assets import build_defs
from identity.matching import match
from identity.model import CONTACT_CHANGE, ModelStore, read_input, train
from identity.settings import CONTACTS
from tests.identity.population import hard_cases, population
from tests.utils.staged import write_staged


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[duckdb.DuckDBPyConnection, dict, Config]]:
    """The population resolved by the identity assets, as `cdp run` would; yields (warehouse, metadata, cfg)."""
    folder = tmp_path_factory.mktemp("identity")
    source = SourceConfig.model_validate(
        {"connector": "csv", "path": "unused.csv", "key": "id", "fields": {"full_name": "name"}})
    cfg = Config(warehouse=str(folder / "warehouse.duckdb"), sources={"case": source})
    rows, _ = population()
    with open_warehouse(cfg.warehouse_path) as con:
        write_staged(con, rows + hard_cases())
    assets = [a for a in build_defs(cfg).assets or [] if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(),
                            resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path))})
    assert result.success
    metadata = {m.asset_key.path[-1]: {k: v.value for k, v in m.materialization.metadata.items()}
                for m in result.get_asset_materialization_events() if m.asset_key}
    with open_warehouse(cfg.warehouse_path) as con:
        yield con, metadata, cfg


def same_cluster(con: duckdb.DuckDBPyConnection, a: str, b: str) -> bool:
    rows = con.execute("select count(distinct cluster_id) from clusters where record_id in (?, ?)", [a, b]).fetchall()
    return rows[0][0] == 1


def test_twins_at_one_address_stay_apart(resolved: tuple) -> None:
    assert not same_cluster(resolved[0], "case:twin1", "case:twin2")


def test_bob_and_robert_smith_with_one_email_and_birth_date_merge(resolved: tuple) -> None:
    assert same_cluster(resolved[0], "case:bob", "case:robert")


def test_father_and_son_of_one_name_and_address_stay_apart(resolved: tuple) -> None:
    assert not same_cluster(resolved[0], "case:father", "case:son")


def test_population_resolves_accurately(resolved: tuple) -> None:
    con = resolved[0]
    _, truth = population()
    con.execute("create or replace table truth (record_id VARCHAR, person INTEGER)")
    con.executemany("insert into truth values (?, ?)", list(truth.items()))
    tp, predicted, actual = con.execute("""
        with j as (select c.cluster_id, t.person from clusters c join truth t using (record_id))
        select (select sum(n * (n - 1) / 2) from (select count(*) n from j group by cluster_id, person)),
               (select sum(n * (n - 1) / 2) from (select count(*) n from j group by cluster_id)),
               (select sum(n * (n - 1) / 2) from (select count(*) n from j group by person))""").fetchall()[0]
    assert tp / predicted > 0.96 and tp / actual > 0.97


def test_every_record_is_clustered_and_pairs_are_explained(resolved: tuple) -> None:
    con = resolved[0]
    assert con.execute("select count(*) from staged anti join clusters using (record_id)").fetchall()[0][0] == 0
    explanation = json.loads(con.execute("select explanation from match_pairs limit 1").fetchall()[0][0])
    assert [e["comparison"] for e in explanation][:2] == ["first_name", "last_name"]
    assert all({"level", "weight"} <= set(e) for e in explanation)


def test_assets_report_what_they_did(resolved: tuple) -> None:
    metadata = resolved[1]
    assert metadata["match_pairs"]["trained"] and metadata["match_pairs"]["pairs"] > 0
    assert metadata["clusters"]["records"] == metadata["match_pairs"]["records"]
    assert {"components_checked", "components_split", "largest"} <= set(metadata["clusters"])


def test_model_is_saved_versioned_and_reused_until_retrained(resolved: tuple) -> None:
    con, metadata, cfg = resolved
    store = ModelStore(cfg.state_dir / "models")
    assert store.current() == store.folder / "model-1.json"
    again = match(con, cfg.identity, store)
    assert not again.trained and again.model == "model-1.json" and again.pairs == metadata["match_pairs"]["pairs"]


def test_contact_comparisons_are_trained(resolved: tuple) -> None:
    """The gated contact levels get the m their ungated form learns; the household level keeps weight 0."""
    model = ModelStore(resolved[2].state_dir / "models").load()
    for comparison in (c for c in model["comparisons"] if c["output_column_name"] in CONTACTS):
        trained = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")
                   and not lv.get("fix_m_probability")]
        assert trained[0]["m_probability"] is not None, comparison["output_column_name"]
        if comparison["output_column_name"] != "area":  # one address is counted by street, not again by area
            assert trained[0]["m_probability"] > 0.3, comparison["output_column_name"]
        assert trained[-1]["m_probability"] >= CONTACT_CHANGE, comparison["output_column_name"]
        fixed = [lv for lv in comparison["comparison_levels"] if lv.get("fix_m_probability")]
        assert fixed and all(lv["m_probability"] == lv["u_probability"] for lv in fixed)


def test_store_without_model_has_no_current(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.current() is None
    with pytest.raises(FileNotFoundError, match="no trained model"):
        store.load()


def test_each_save_is_a_new_version_and_becomes_current(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    assert store.save({"v": 1}).name == "model-1.json"
    assert store.save({"v": 2}).name == "model-2.json"
    assert store.load() == {"v": 2} and (store.folder / "model-1.json").exists()


def test_a_gated_session_that_stops_leaves_every_comparison_trained(caplog: pytest.LogCaptureFixture) -> None:
    """On this population Splink stops one session of the ungated form (an m underflows to 0); the sessions after
    it go on from the model as it was, and nothing goes missing from the model."""
    rows, _ = population(households=250)
    con = duckdb.connect()
    write_staged(con, rows)
    with caplog.at_level(logging.WARNING, logger="identity.model"):
        model = train(read_input(con))
    assert "training the gated comparisons on" in caplog.text
    assert [c["output_column_name"] for c in model["comparisons"]] == [
        c["output_column_name"] for c in model_settings.comparisons()]
    same = {c["output_column_name"]: c["comparison_levels"][1] for c in model["comparisons"]}  # after "missing"
    assert all(same[name]["m_probability"] > 0.5 for name in ("last_name", "email", "phone", "street"))
