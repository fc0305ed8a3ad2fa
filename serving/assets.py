"""The serving store's side of the asset graph.

`suppressions`, first of all, brings the records erased through the API into the warehouse and takes
them out of it, before any source is loaded (the loads then keep them out); `steward_decisions` brings
the decisions the API recorded in the store back into the warehouse, upstream of clustering;
`published` copies the golden side into the store as one new version.
Thin: the work is in serving.publish, serving.decisions, serving.suppress and identity.review (no Dagster there).
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations at definition time.

import dagster as dg

from cdp.config import Config
from cdp.datakey import data_key
from cdp.resources import ServingResource, WarehouseResource
from cdp.schema import SUPPRESSIONS
from cdp.sealing import Sealer
from identity.review import import_decisions
from quality.quarantine import keep_published
from serving.decisions import decisions
from serving.erasure import latest_suppression, reapply
from serving.publish import publish
from serving.seal import Sealing
from serving.suppress import purge, store_suppressions, sync

GROUP = "serving"


@dg.asset(name="steward_decisions", deps=["match_pairs"], group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
def steward_decisions(warehouse: WarehouseResource, serving: ServingResource) -> dg.MaterializeResult:
    """The stewards' match / no-match decisions, read back from the serving store (the API writes them
    there), for clustering to honour as must-links and cannot-links; their candidates leave the queue."""
    incoming = decisions(serving.url)
    with warehouse.connect() as con:
        added = import_decisions(con, incoming)
    return dg.MaterializeResult(metadata={"in_store": incoming.num_rows, "added": added})


def suppressions_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name=SUPPRESSIONS, group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
    def suppressions(warehouse: WarehouseResource, serving: ServingResource) -> dg.MaterializeResult:
        """The erased records' keyed hashes, copied from the serving store (the API's erasures write them
        there), and every listed record taken out of the warehouse; the loads then quarantine them."""
        incoming = store_suppressions(serving.url)
        with warehouse.connect() as con:
            added = sync(con, incoming)
            purged = purge(con, cfg, data_key(cfg.state_dir))
        return dg.MaterializeResult(metadata={"in_store": incoming.num_rows, "added": added,
                                              "records_purged": purged.records, "customers_purged": purged.customers})

    return suppressions


def published_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name="published", deps=["golden", "traits"], group_name=GROUP, kinds={"duckdb", "sqlalchemy"})
    def published(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                  serving: ServingResource) -> dg.MaterializeResult:
        """Profiles, search keys, source records, redirects, timelines and the review queue in the serving
        store, swapped in as one new version: readers see the old or the new.

        Erasures made while the run was going are taken out of the warehouse first, and those made while
        the version loads out of the version as it is swapped in, so it does not bring them back. The load's
        quarantine becomes the one `cdp export quarantine` shows. With $CDP_DATA_KEY set, the personal values
        are stored encrypted (serving.seal)."""
        key, through = data_key(cfg.state_dir), latest_suppression(serving.url)
        with warehouse.connect() as con:
            sync(con, store_suppressions(serving.url))
            purge(con, cfg, key)
            stats = publish(con, serving.url, context.run_id, reapply(key, through),
                            Sealing.of(Sealer.from_env(), cfg.api.pii))
            keep_published(con)
        rows = {f"rows.{table}": n for table, n in stats.rows.items()}
        return dg.MaterializeResult(metadata={"version": stats.version, "store": stats.store,
                                              "seconds": stats.seconds, **rows})

    return published


def build_defs(cfg: Config) -> dg.Definitions:
    """The serving assets (the store itself is the `serving` resource, cdp.resources)."""
    return dg.Definitions(assets=[suppressions_asset(cfg), steward_decisions, published_asset(cfg)])
