"""The last step of a run: the `published` asset copies the golden side into the serving store.

Thin: the work is in cdp.serving (no Dagster there). `export_crosswalk` backs `cdp export crosswalk`.
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations at definition time.

from pathlib import Path

import dagster as dg

from cdp.config import Config
from cdp.resources import WarehouseResource
from cdp.serving.publish import export_source_records, publish

GROUP = "serving"


def published_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name="published", deps=["golden", "traits"], group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
    def published(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Profiles (with masked copies), search keys, source records, redirects and interactions in the
        serving store named by `serving:`, swapped in as one new version: readers see the old or the new."""
        with warehouse.connect() as con:
            stats = publish(con, cfg.serving, context.run_id)
        rows = {f"rows.{table}": n for table, n in stats.rows.items()}
        return dg.MaterializeResult(metadata={"version": stats.version, "store": stats.store,
                                              "seconds": stats.seconds, **rows})

    return published


def export_crosswalk(cfg: Config, out: Path) -> int:
    """Write `source,source_id,customer_id` for every published source record to `out`; returns the rows."""
    return export_source_records(cfg.serving, out)


def build_defs(cfg: Config) -> dg.Definitions:
    """The serving assets of one config."""
    return dg.Definitions(assets=[published_asset(cfg)])
