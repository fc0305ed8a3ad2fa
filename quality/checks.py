"""Dagster asset checks: each stage's gate, on the asset that builds the stage.

raw_<source>     critical_expectations                       (every feed of the source)
staged_<source>  critical_expectations, warning_expectations, country_rules
clusters         critical_expectations, warning_expectations
customers        critical_expectations
golden           critical_expectations, warning_expectations

One op per stage validates the stage once and reports two checks: `critical_expectations` is
blocking, so when it fails nothing downstream runs (nothing is published and the serving store
keeps its last version); `warning_expectations` fails with WARN severity and the run goes on.
Great Expectations is imported inside the op, so importing this module stays cheap.
`country_rules` (WARN, not Great Expectations) says when most of a source's phones, states,
postcodes or tax ids failed the rules of the country assumed for them (quality.country).
"""

# No `from __future__ import annotations`: Dagster reads the check functions' annotations at definition time.

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from cdp.config import Config
from cdp.resources import WarehouseResource
from cdp.schema import raw_table, staged_table
from quality.country import misfits
from quality.outcome import Finding, Outcome
from quality.report import INDEX, quality_dir

CRITICAL, WARNINGS, COUNTRY = "critical_expectations", "warning_expectations", "country_rules"


@dataclass(frozen=True)
class Stage:
    """One gated stage: the asset checked, the gate in quality.gates that measures it, and its source."""

    asset: str
    gate: str
    """Name of the function in quality.gates (imported when the check runs, not before)."""
    source: str | None = None
    warns: bool = True
    """Whether the stage's suite has warning expectations (raw and customers have only critical ones)."""
    last: bool = False
    """The run's last gate: it builds the Data Docs of the run (so does any gate that blocks the run)."""


def stages(cfg: Config) -> list[Stage]:
    """Per source its raw and staged stage, then the identity stages."""
    per_source = [s for name in cfg.sources for s in (Stage(raw_table(name), "raw_gate", name, warns=False),
                                                         Stage(staged_table(name), "staged_gate", name))]
    return [*per_source, Stage("clusters", "clusters_gate"), Stage("customers", "customers_gate", warns=False),
            Stage("golden", "golden_gate", last=True)]


def stage_check(cfg: Config, stage: Stage) -> dg.AssetChecksDefinition:
    """The op validating one stage, reporting its critical (blocking) and warning checks."""
    about = f"source {stage.source}" if stage.source else "all sources"
    specs = [dg.AssetCheckSpec(CRITICAL, asset=stage.asset, blocking=True,
                               description=f"Critical expectations of {stage.asset} ({about}): a failure stops "
                                           "everything downstream, nothing is published.")]
    if stage.warns:
        specs.append(dg.AssetCheckSpec(WARNINGS, asset=stage.asset,
                                       description=f"Warning expectations of {stage.asset} ({about}): reported, "
                                                   "the run goes on."))

    @dg.multi_asset_check(specs=specs, name=f"{stage.asset}_quality", compute_kind="great_expectations")
    def check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.AssetCheckResult]:
        with _spark_hidden():
            from quality import gates  # Great Expectations: seconds to import, so only when a check runs

        gate = getattr(gates, stage.gate)
        args = (stage.source,) if stage.source else ()
        with warehouse.connect() as con:
            outcome: Outcome = gate(con, cfg, context.run.run_id, *args)
        if stage.last or outcome.blocking:  # Data Docs once per run: a build costs seconds
            gates.build_run_docs(cfg, context.run.run_id)
        docs = quality_dir(cfg) / INDEX  # written when the run's last gate (or a blocking one) has run
        if stage.warns:
            yield _result(stage.asset, WARNINGS, outcome, outcome.warnings, dg.AssetCheckSeverity.WARN, docs)
        yield _result(stage.asset, CRITICAL, outcome, outcome.blocking, dg.AssetCheckSeverity.ERROR, docs)

    return check


@contextmanager
def _spark_hidden() -> Iterator[None]:
    """pyspark out of sight while Great Expectations is imported.

    Where pyspark is installed (cdp's `spark` extra), Great Expectations imports it for its Spark engine, which
    the gates never use (they validate pandas frames): about a second of every run, a sixth of its own import.
    It takes an ImportError for "not installed". Only the import is affected: pyspark imports normally after
    (identity's Spark engine), and where it is imported already nothing is hidden.
    """
    if "pyspark" in sys.modules:
        yield
        return
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # None in sys.modules: import raises ImportError
    try:
        yield
    finally:
        if "pyspark" in sys.modules and sys.modules["pyspark"] is None:
            del sys.modules["pyspark"]


def country_check(cfg: Config, source: str) -> dg.AssetChecksDefinition:
    """WARN when most values of one of the source's country-dependent attributes failed that country's rules."""
    src, asset = cfg.sources[source], staged_table(source)

    @dg.asset_check(asset=asset, name=COUNTRY, description=(
        f"Phones, states, postcodes and tax ids of source {source} fit the country assumed for them "
        f"({src.country.upper()}): a warning names the attribute when most of its values failed that country's "
        "rules."))
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            found = misfits(con, source, src)
        metadata = {f"{m.attribute}_failed_share": round(m.share, 4) for m in found}
        return dg.AssetCheckResult(
            passed=not found, severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
            description="; ".join(m.line() for m in found) or f"values fit the rules for {src.country.upper()}")

    return check


def _result(asset: str, name: str, outcome: Outcome, failed: list[Finding], severity: dg.AssetCheckSeverity,
            docs: Path) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {"expectations_evaluated": outcome.evaluated, "tables": ", ".join(outcome.tables),
                                   "failed": len(failed)}
    if failed:
        metadata["failed_expectations"] = dg.MetadataValue.md(_table(failed))
    metadata["data_docs"] = dg.MetadataValue.path(str(docs))
    description = "; ".join(f.line() for f in failed) or (
        f"met ({outcome.evaluated} expectations evaluated on {', '.join(outcome.tables)})")
    return dg.AssetCheckResult(asset_key=asset, check_name=name, passed=not failed, severity=severity,
                               description=description, metadata=metadata)


def _table(findings: list[Finding]) -> str:
    """The failed expectations as a Markdown table, for the Dagster UI."""
    rows = [f"| {f.expectation} | {f.source or ''} | {f.table} | {f.column or ''} | {f.observed} | {f.expected} |"
            for f in findings]
    return "\n".join(["| expectation | source | table | column | observed | expected |", "|---|---|---|---|---|---|",
                      *(r.replace("\n", " ") for r in rows)])


def build_defs(cfg: Config) -> dg.Definitions:
    """The quality checks of one config: one op per gated stage, and each source's country check."""
    return dg.Definitions(asset_checks=[*(stage_check(cfg, stage) for stage in stages(cfg)),
                                        *(country_check(cfg, source) for source in cfg.sources)])
