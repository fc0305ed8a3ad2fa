"""The serving store's side of the asset graph.

`steward_decisions` brings the decisions the API recorded in the store back into the warehouse,
upstream of clustering; `published` copies the golden side into the store as one new version.
Thin: the work is in serving.publish, serving.decisions and identity.review (no Dagster there).
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations at definition time.

import dagster as dg

from cdp.config import Config
from cdp.resources import ServingResource, WarehouseResource
from identity.review import import_decisions
from quality.quarantine import keep_published
from serving.decisions import decisions
from serving.publish import publish

GROUP = "serving"


@dg.asset(name="steward_decisions", deps=["match_pairs"], group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
def steward_decisions(warehouse: WarehouseResource, serving: ServingResource) -> dg.MaterializeResult:
    """The stewards' match / no-match decisions, read back from the serving store (the API writes them
    there), for clustering to honour as must-links and cannot-links; their candidates leave the queue."""
    incoming = decisions(serving.url)
    with warehouse.connect() as con:
        added = import_decisions(con, incoming)
    return dg.MaterializeResult(metadata={"in_store": incoming.num_rows, "added": added})


@dg.asset(deps=["golden", "traits"], group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
def published(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              serving: ServingResource) -> dg.MaterializeResult:
    """Profiles, search keys, source records, redirects, timelines and the review queue in the serving
    store, swapped in as one new version: readers see the old or the new. The load's quarantine becomes the
    one `cdp export quarantine` shows."""
    with warehouse.connect() as con:
        stats = publish(con, serving.url, context.run_id)
        keep_published(con)
    rows = {f"rows.{table}": n for table, n in stats.rows.items()}
    return dg.MaterializeResult(metadata={"version": stats.version, "store": stats.store,
                                          "seconds": stats.seconds, **rows})


def build_defs(cfg: Config) -> dg.Definitions:
    """The serving assets (the store itself is the `serving` resource, cdp.resources)."""
    return dg.Definitions(assets=[steward_decisions, published])
