"""Ingestion assets: per source S, raw_S -> staged_S; then the `staged` view over all of them.

A new source in cdp.yaml is a new raw/staged branch. The assets are thin: they open the
warehouse and call the plain functions of ingestion.load and ingestion.stage.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition time.

from dataclasses import asdict
from pathlib import Path

import dagster as dg

from cdp.config import Config, SourceConfig
from cdp.datakey import data_key
from cdp.resources import WarehouseResource, full_run
from cdp.schema import STAGED, SUPPRESSIONS, raw_table, staged_table
from ingestion.load import load_source
from ingestion.stage import build_unions, stage_source

GROUP = "ingestion"


def raw_asset(name: str, src: SourceConfig, state_dir: Path) -> dg.AssetsDefinition:
    kind = src.location.connector

    # After `suppressions` (serving.assets), which lists the records erased since the last run.
    @dg.asset(name=raw_table(name), deps=[SUPPRESSIONS], group_name=GROUP, kinds={"duckdb", kind},
              description=f"Rows of source {name!r} ({kind}) and its interaction feeds as sent; "
                          "unreadable, blank-key, duplicate-key and erased rows quarantined.")
    def raw(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            loads = load_source(con, name, src, data_key(state_dir), full=full_run(context))
        metadata = {f"{s.source}.{k}": v for s in loads for k, v in asdict(s).items()
                    if k.startswith("rows_") or k == "mode"}
        return dg.MaterializeResult(metadata=metadata | {"batch_id": loads[0].batch_id})

    return raw


def staged_source_asset(name: str, src: SourceConfig) -> dg.AssetsDefinition:
    @dg.asset(name=staged_table(name), deps=[raw_table(name)], group_name=GROUP, kinds={"duckdb"},
              description=f"Standardised records of {name!r} (table {staged_table(name)}) and its interactions.")
    def staged_source(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            stats = stage_source(con, name, src, full=full_run(context))
        return dg.MaterializeResult(metadata=asdict(stats))

    return staged_source


def staged_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name=STAGED, deps=[staged_table(name) for name in cfg.sources], group_name=GROUP,
              kinds={"duckdb"})
    def staged(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Every source's standardised records in the view `staged`, their events in the view `interactions`:
        each the union of the sources' tables."""
        with warehouse.connect() as con:
            counts = build_unions(con, cfg)
        return dg.MaterializeResult(metadata=counts)

    return staged


def ingestion_assets(cfg: Config) -> list[dg.AssetsDefinition]:
    """raw_S and staged_S for each source S of the config, and `staged` over them all."""
    branches = [a for name, src in cfg.sources.items()
                for a in (raw_asset(name, src, cfg.state_dir), staged_source_asset(name, src))]
    return [*branches, staged_asset(cfg)]


def build_defs(cfg: Config) -> dg.Definitions:
    """The ingestion assets of one config."""
    return dg.Definitions(assets=ingestion_assets(cfg))
