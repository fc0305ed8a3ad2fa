"""The serving store's side of the asset graph.

`suppressions`, first of all, brings the records erased through the API into the warehouse and takes
them out of it, before any source is loaded (the loads then keep them out); `steward_decisions` brings
the decisions the API recorded in the store back into the warehouse, upstream of clustering;
`published` copies the golden side into the store as one new version (and its changes into the change feed);
`webhooks`, when cdp.yaml lists any, delivers the feed to them after it.
Thin: the work is in serving.publish, serving.decisions, serving.suppress, serving.webhooks and identity.review
(no Dagster there).
"""

# No `from __future__ import annotations`: Dagster reads the asset functions' annotations at definition time.

import dagster as dg

from cdp.config import Config
from cdp.datakey import data_key
from cdp.resources import ServingResource, WarehouseResource, full_run
from cdp.schema import SUPPRESSIONS
from cdp.sealing import Sealer
from identity.review import import_decisions
from quality.quarantine import keep_published
from serving.decisions import decisions
from serving.erasure import latest_suppression, reapply
from serving.publish import publish
from serving.seal import Sealing
from serving.suppress import purge, store_suppressions, sync
from serving.webhooks import deliver

GROUP = "serving"
WEBHOOK_BUDGET = 30.0
"""Seconds a run spends delivering webhooks at most; what is left waits for the next pass."""


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
        are stored encrypted (serving.seal).

        Only the customers identity listed as dirty are replaced when the store still serves what this warehouse
        published last (serving.incremental); a `cdp run --full` replaces everything. Metadata: `mode` (full or
        partial), `customers_replaced`, and `full_because` when full; `rows.*` counts the rows written."""
        key, through = data_key(cfg.state_dir), latest_suppression(serving.url)
        with warehouse.connect() as con:
            sync(con, store_suppressions(serving.url))
            purge(con, cfg, key)
            stats = publish(con, serving.url, context.run_id, reapply(key, through),
                            Sealing.of(Sealer.from_env(), cfg.api.pii), full_run(context))
            keep_published(con)
        rows = {f"rows.{table}": n for table, n in stats.rows.items()}
        why = {"full_because": stats.full_because} if stats.mode == "full" else {}
        return dg.MaterializeResult(metadata={"version": stats.version, "store": stats.store,
                                              "seconds": stats.seconds, "mode": stats.mode,
                                              "customers_replaced": stats.customers, **why, **rows})

    return published


def webhooks_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name="webhooks", deps=["published"], group_name=GROUP, kinds={"sqlalchemy"},
              check_specs=[dg.AssetCheckSpec("delivered", asset="webhooks",
                                             description="Every endpoint took what it was sent (a warning otherwise)")])
    def webhooks(serving: ServingResource) -> dg.MaterializeResult:
        """The change feed delivered to cdp.yaml's webhooks, signed and in order, within WEBHOOK_BUDGET seconds.

        A receiver that fails or is slow never fails the run: its attempts are recorded, its events wait for the
        next run or `cdp webhooks deliver`, and the `delivered` check warns naming it. Metadata: per endpoint,
        events delivered and pending and failed attempts since its last delivery."""
        outcome = deliver(serving.url, cfg.webhooks, budget=WEBHOOK_BUDGET)
        metadata: dict[str, str | int] = {"pending": sum(r.pending for r in outcome)}
        for r in outcome:
            error = f"; last error: {r.last_error}" if r.last_error else ""
            metadata[r.url] = f"delivered {r.delivered}, pending {r.pending}, failing {r.failing}{error}"
        failing = [f"{r.url} ({r.last_error})" for r in outcome if r.failing]
        check = dg.AssetCheckResult(check_name="delivered", passed=not failing, severity=dg.AssetCheckSeverity.WARN,
                                    description="failing: " + ", ".join(failing) + "; `cdp webhooks deliver` retries"
                                    if failing else "every endpoint is up to date")
        return dg.MaterializeResult(metadata=metadata, check_results=[check])

    return webhooks


def build_defs(cfg: Config) -> dg.Definitions:
    """The serving assets (the store itself is the `serving` resource, cdp.resources); `webhooks` only when
    cdp.yaml lists some."""
    assets = [suppressions_asset(cfg), steward_decisions, published_asset(cfg)]
    return dg.Definitions(assets=assets + ([webhooks_asset(cfg)] if cfg.webhooks else []))
