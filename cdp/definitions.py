"""The whole asset graph, built from cdp.yaml: `dagster dev -w workspace.yaml` loads `defs`.

suppressions -> raw_<source> -> staged_<source> -> staged -> match_pairs -> steward_decisions -> clusters
  -> customers -> golden -> traits -> published (-> webhooks, when cdp.yaml lists some)
with quality checks on every stage; a new source in cdp.yaml is a new raw/staged branch. cdp.automation adds the
job `cdp_run` over all of it, a sensor launching it when sources change and a daily full schedule.
"""

from __future__ import annotations

import os

import dagster as dg

from cdp.automation import build_defs as automation_defs
from cdp.config import Config, load_config
from cdp.resources import ServingResource, WarehouseResource
from cdp.state import PRIVATE_UMASK
from identity.assets import build_defs as identity_defs
from ingestion.assets import build_defs as ingestion_defs
from quality.checks import build_defs as quality_defs
from serving.assets import build_defs as serving_defs


def build_definitions(cfg: Config) -> dg.Definitions:
    """Definitions for one config; the CLI and the tests call this directly."""
    base = dg.Definitions(
        resources={"warehouse": WarehouseResource(path=str(cfg.warehouse_path), options=cfg.warehouse_options),
                   "serving": ServingResource(url=cfg.serving)},
        # One process writes the DuckDB file at a time, so steps run in-process, one after another.
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(
        base, ingestion_defs(cfg), identity_defs(cfg), quality_defs(cfg), serving_defs(cfg), automation_defs(cfg)
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev -w workspace.yaml` loads: the graph of ./cdp.yaml or $CDP_CONFIG.

    Sets umask 077 in the process loading it, so what its runs write is owner-only as under `cdp`.
    """
    os.umask(PRIVATE_UMASK)
    return build_definitions(load_config())
