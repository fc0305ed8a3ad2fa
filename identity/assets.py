"""Identity assets: staged -> match_pairs -> clusters -> customers -> golden -> traits.

Clustering also waits for `steward_decisions` (serving.assets), which brings the stewards' decisions into
the warehouse.

Thin wrappers: each opens the warehouse and calls a plain function of this package.
"""

from dataclasses import asdict

import dagster as dg

from cdp.config import Config
from cdp.resources import WarehouseResource, full_run
from cdp.schema import STAGED
from identity.cluster import cluster_changed
from identity.engine import Engine
from identity.golden import golden_changed
from identity.ids import assign_changed
from identity.labels import threshold_in_use
from identity.matching import match
from identity.model import ModelStore
from identity.plausible import problems, weights_table
from identity.review import queue_split_links
from identity.traits import traits_changed

GROUP = "identity"


class MatchConfig(dg.Config):
    """Run options of `match_pairs`."""

    retrain: bool = False
    """Train a new model version before scoring (what `cdp train` sets)."""
    with_labels: bool = False
    """Refine the model by the stewards' decisions even if not due, failing if too few (`cdp train --with-labels`)."""


def match_pairs_asset(cfg: Config) -> dg.AssetsDefinition:
    store = ModelStore(cfg.state_dir / "models")

    @dg.asset(name="match_pairs", deps=["staged"], group_name=GROUP, kinds={cfg.engine, "splink"})
    def match_pairs(context: dg.AssetExecutionContext, config: MatchConfig,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Candidate pairs scored by the Splink model, with explanations; uncertain ones queued for review.

        Incremental unless the run is tagged full or identity.incremental finds a reason not to: only the
        pairs of records changed since the last run are scored; metadata `mode` and `reason` say which.
        """
        with warehouse.connect() as con:
            stats = match(con, cfg.identity, store, retrain=config.retrain, with_labels=config.with_labels,
                          full=full_run(context), engine=Engine.of(cfg))
        return dg.MaterializeResult(metadata=asdict(stats))

    return match_pairs


def model_check(cfg: Config) -> dg.AssetChecksDefinition:
    store = ModelStore(cfg.state_dir / "models")

    @dg.asset_check(asset="match_pairs", name="model_plausible", blocking=True,
                    description="The match model in use is plausible (identity.plausible): a prior of at least one "
                                "matching pair, and no near agreement likelier among matches than an exact one.")
    def model_plausible(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        current = store.current()
        if current is None:  # too few records to train: match_pairs is empty
            return dg.AssetCheckResult(passed=True, metadata={"model": "none"})
        with warehouse.connect() as con:
            records = con.execute(f"select count(*) from {STAGED}").fetchall()[0][0]
        model = store.load()
        found = problems(model, records)
        return dg.AssetCheckResult(passed=not found, severity=dg.AssetCheckSeverity.ERROR,
                                   description="; ".join(found) or None,
                                   metadata={"model": current.name, "problems": len(found),
                                             "weights": dg.MetadataValue.md(weights_table(model))})

    return model_plausible


def clusters_asset(cfg: Config) -> dg.AssetsDefinition:
    store = ModelStore(cfg.state_dir / "models")

    @dg.asset(name="clusters", deps=["match_pairs", "steward_decisions"], group_name=GROUP, kinds={"duckdb"})
    def clusters(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Records grouped into people: links strongest first, guarded against conflicting identifiers.

        Links the guards refused join the stewards' review queue.
        """
        cut = threshold_in_use(store, cfg.identity.threshold)  # picked from the stewards' labels, if any
        with warehouse.connect() as con:
            stats, mode = cluster_changed(con, cut, cfg.identity.max_cluster_size)
            review_open = queue_split_links(con, cut)
        return dg.MaterializeResult(metadata=stats.as_metadata() | {"review_open": review_open, "mode": mode})

    return clusters


@dg.asset(deps=["clusters"], group_name=GROUP, kinds={"duckdb"})
def customers(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Stable customer ids over the clusters (record_customer, customers, id_history, id_redirects)."""
    with warehouse.connect() as con:
        stats, mode = assign_changed(con, context.run_id)
    return dg.MaterializeResult(metadata=stats.as_metadata() | {"mode": mode})


def golden_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name="golden", deps=["customers"], group_name=GROUP, kinds={"duckdb"})
    def golden(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Golden profiles by the survivorship rules, their lineage, and the crosswalk view."""
        with warehouse.connect() as con:
            stats = golden_changed(con, cfg.identity)
        return dg.MaterializeResult(metadata=stats)

    return golden


@dg.asset(deps=["golden", "staged"], group_name=GROUP, kinds={"duckdb"})
def traits(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per customer: value, counts, recent tickets and complaints, RFM tiers, loyalty and churn risk."""
    with warehouse.connect() as con:
        stats = traits_changed(con)
    return dg.MaterializeResult(metadata=stats)


def build_defs(cfg: Config) -> dg.Definitions:
    """The identity assets for one config; further identity assets are appended to this list."""
    return dg.Definitions(assets=[match_pairs_asset(cfg), clusters_asset(cfg), customers,
                                  golden_asset(cfg), traits], asset_checks=[model_check(cfg)])
