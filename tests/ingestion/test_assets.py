"""The ingestion part of the asset graph: one raw/staged branch per source, then `staged`."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cdp.resources import WarehouseResource
from cdp.warehouse import open_warehouse
from ingestion.assets import build_defs, ingestion_assets
from tests.utils.sources import two_sources


def test_one_branch_per_source_then_staged(tmp_path: Path) -> None:
    warehouse = dg.Definitions(resources={"warehouse": WarehouseResource(path=str(tmp_path / "w.duckdb"))})
    graph = dg.Definitions.merge(build_defs(two_sources(tmp_path)), warehouse).resolve_asset_graph()
    # `suppressions` is the serving package's (the erased records); every load waits for it
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()} - {"suppressions"}
    assert keys == {"raw_finance", "staged_finance", "raw_sales", "staged_sales", "staged"}
    parents = {k: {p.to_user_string() for p in graph.get(dg.AssetKey(k)).parent_keys} for k in keys}
    assert parents["raw_sales"] == parents["raw_finance"] == {"suppressions"}
    assert parents["staged_sales"] == {"raw_sales"}
    assert parents["staged"] == {"staged_finance", "staged_sales"}
    assert {graph.get(dg.AssetKey(k)).group_name for k in keys} == {"ingestion"}


def test_materialising_fills_the_warehouse(tmp_path: Path) -> None:
    cfg = two_sources(tmp_path)
    warehouse = tmp_path / "warehouse.duckdb"
    resources = {"warehouse": WarehouseResource(path=str(warehouse))}
    result = dg.materialize(ingestion_assets(cfg), resources=resources)
    assert result.success
    raw = result.asset_materializations_for_node("raw_sales")[0].metadata
    assert raw["sales.rows_in"].value == 5 and raw["sales.rows_quarantined"].value == 2
    staged = result.asset_materializations_for_node("staged")[0].metadata
    assert (staged["staged"].value, staged["interactions"].value) == (5, 5)
    with open_warehouse(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from staged").fetchall() == [(5,)]
