"""Identity assets: staged -> match_pairs -> clusters (-> customers -> golden, added beside these).

Thin wrappers: each opens the warehouse and calls a plain function of this package.
"""

from dataclasses import asdict

import dagster as dg

from cdp.config import Config
from cdp.resources import WarehouseResource
from identity.cluster import cluster_records
from identity.matching import match
from identity.model import ModelStore
from identity.review import queue_split_links

GROUP = "identity"


class MatchConfig(dg.Config):
    """Run options of `match_pairs`."""

    retrain: bool = False
    """Train a new model version before scoring (what `cdp train` sets)."""


def match_pairs_asset(cfg: Config) -> dg.AssetsDefinition:
    store = ModelStore(cfg.state_dir / "models")

    @dg.asset(name="match_pairs", deps=["staged"], group_name=GROUP, kinds={"duckdb", "splink"})
    def match_pairs(config: MatchConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Candidate pairs scored by the Splink model, with explanations; uncertain ones queued for review."""
        with warehouse.connect() as con:
            stats = match(con, cfg.identity, store, retrain=config.retrain)
        return dg.MaterializeResult(metadata=asdict(stats))

    return match_pairs


def clusters_asset(cfg: Config) -> dg.AssetsDefinition:
    @dg.asset(name="clusters", deps=["match_pairs"], group_name=GROUP, kinds={"duckdb"})
    def clusters(warehouse: WarehouseResource) -> dg.MaterializeResult:
        """Records grouped into people: links strongest first, guarded against conflicting identifiers.

        Links the guards refused join the stewards' review queue.
        """
        with warehouse.connect() as con:
            stats = cluster_records(con, cfg.identity.threshold, cfg.identity.max_cluster_size)
            review_open = queue_split_links(con, cfg.identity.threshold)
        return dg.MaterializeResult(metadata=stats.as_metadata() | {"review_open": review_open})

    return clusters


def build_defs(cfg: Config) -> dg.Definitions:
    """The identity assets for one config; further identity assets are appended to this list."""
    return dg.Definitions(assets=[match_pairs_asset(cfg), clusters_asset(cfg)])
