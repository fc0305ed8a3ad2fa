"""Running a suite over a frame in the project's Great Expectations context, and the run's reports.

The context is a file-backed Great Expectations project beside the warehouse (quality/report.py
names the folder). It holds the last run only: the first validation of a new run clears it, so
the suites, results, Data Docs and cdp's own report (quality.page) are those of one run.

Imports Great Expectations (seconds): only quality.gates imports this module, inside the checks.
"""

from __future__ import annotations

import shutil
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, cast

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.core.result_format import ResultFormat
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.data_context.context_factory import set_context
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.datasource.fluent import PandasDatasource
from great_expectations.execution_engine import pandas_execution_engine
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity

from quality.outcome import Finding, Outcome
from quality.page import Checked, write_page
from quality.report import GX_DOCS, GX_FOLDER, INDEX, RUN_MARKER

DATASOURCE = "cdp"
RESULT_FORMAT = ResultFormat.BASIC  # counts plus up to 20 unexpected values, for Data Docs and the findings
# (SUMMARY adds counts per unexpected value: a hash of every column it checks, seconds per million rows)
COUNTS_ONLY = {"result_format": ResultFormat.BASIC, "partial_unexpected_count": 0}
"""BASIC without the unexpected values: for personal data, which would otherwise be written into the stored
results, the Data Docs, cdp's report and Dagster's event log."""

# Great Expectations fingerprints each in-memory batch by hashing every value of the frame (~1 s
# per million rows, per validation) only to label it in the results; our frames are built for
# one validation, so the label tells nothing. Frames above this size are not hashed.
pandas_execution_engine.HASH_THRESHOLD = 0
BOUNDS = ("value", "min_value", "max_value", "mostly", "regex", "value_set")


_open: dict[tuple[Path, str], AbstractDataContext] = {}
"""The project each run opened in this process: reading a file project costs ~0.5 s of YAML, per gate."""


def open_project(root: Path, run_id: str) -> AbstractDataContext:
    """The Great Expectations project in `root`, emptied first when it holds another run's results."""
    marker = root / RUN_MARKER
    if not marker.exists() or marker.read_text() != run_id:
        shutil.rmtree(root / GX_FOLDER, ignore_errors=True)
        (root / INDEX).unlink(missing_ok=True)
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text(run_id)
        _open.pop((root, run_id), None)
    if (root, run_id) in _open:
        context = _open[(root, run_id)]
        set_context(context)  # suites are built against the current project
        return context
    context = gx.get_context(mode="file", project_root_dir=root)
    if context.variables.progress_bars is None:  # bars would interleave with `cdp run`'s own
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    _open.clear()
    _open[(root, run_id)] = context
    return context


def validate(context: AbstractDataContext, run_id: str, frame: pd.DataFrame, suite: gx.ExpectationSuite,
             source: str | None, examples: bool = True) -> Outcome:
    """Validate `frame` with `suite` (named after the table it checks) and store the result (see build_docs);
    without `examples`, no unexpected value is kept, only counts."""
    table = suite.name
    suite.meta["source"] = source  # for the report, which reads the stored results back
    suite = context.suites.add_or_update(suite)
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=table, data=_batch_definition(context, table), suite=suite))
    with _inferred_strings():
        result = definition.run(batch_parameters={"dataframe": frame},
                                result_format=RESULT_FORMAT if examples else COUNTS_ONLY,
                                run_id=RunIdentifier(run_name=run_id))
    return outcome_of(result, table, source)


def _inferred_strings() -> AbstractContextManager[object]:
    """Strings inferred as Arrow-backed: GX's regex check casts to str, and then the cast and match stay vectorised.

    pandas 3 always infers them (and deprecates the option, to be removed in pandas 4); pandas 2 needs it set.
    """
    if int(pd.__version__.split(".")[0]) >= 3:
        return nullcontext()
    return pd.option_context("future.infer_string", True)


def build_docs(context: AbstractDataContext) -> None:
    """The report (quality.page) and Data Docs of every suite and result stored in this run.

    Built once per run rather than per validation: each build compiles Great Expectations' page
    templates afresh (~2 s), which would cost more than validating a million rows.
    """
    context.build_data_docs()
    root = Path(str(context.root_directory)).parent
    write_page(root / INDEX, (root / RUN_MARKER).read_text(), checked(context), root / GX_DOCS)


def checked(context: AbstractDataContext) -> list[Checked]:
    """Every expectation evaluated in the project, in the order the validations ran."""
    results = sorted(context.validation_results_store.get_all(), key=lambda r: r.meta["validation_time"])
    rows = []
    for result in results:
        source = context.suites.get(result.suite_name).meta.get("source")
        for r in result.results:
            config = _config(r)
            rows.append(Checked(table=result.suite_name, source=source, expectation=config.type,
                                column=config.kwargs.get("column"), severity=config.severity.value, met=r.success,
                                expected=_expected(config), observed=_observed(r), note=_notes(config)))
    return rows


def _batch_definition(context: AbstractDataContext, table: str) -> BatchDefinition:
    try:
        datasource = cast(PandasDatasource, context.data_sources.get(DATASOURCE))
    except KeyError:
        datasource = context.data_sources.add_pandas(DATASOURCE)
    try:
        asset = datasource.get_asset(table)
    except LookupError:
        asset = datasource.add_dataframe_asset(table)
    try:
        return asset.get_batch_definition(table)
    except KeyError:
        return asset.add_batch_definition_whole_dataframe(table)


def outcome_of(result: ExpectationSuiteValidationResult, table: str, source: str | None) -> Outcome:
    """The expectations evaluated and a Finding for each one not met (INFO severity is not a finding)."""
    findings = [_finding(r, _config(r), table, source) for r in result.results
                if not r.success and _config(r).severity != FailureSeverity.INFO]
    return Outcome(len(result.results), findings, [table])


def _config(r: ExpectationValidationResult) -> ExpectationConfiguration:
    if r.expectation_config is None:  # GX sets it on every result of a suite
        raise ValueError("a validation result without its expectation")
    return r.expectation_config


def _finding(r: ExpectationValidationResult, config: ExpectationConfiguration, table: str,
             source: str | None) -> Finding:
    return Finding(expectation=config.type, source=source, table=table, column=config.kwargs.get("column"),
                   blocking=config.severity == FailureSeverity.CRITICAL, observed=_observed(r),
                   expected=_expected(config), note=_notes(config))


def _expected(config: ExpectationConfiguration) -> str:
    kwargs: dict[str, Any] = config.kwargs
    return ", ".join(f"{k}={_short(kwargs[k])}" for k in BOUNDS if kwargs.get(k) is not None)


def _notes(config: ExpectationConfiguration) -> str:
    return config.notes if isinstance(config.notes, str) else " ".join(config.notes or [])


def _observed(r: ExpectationValidationResult) -> str:
    if r.exception_info and r.exception_info.get("raised_exception"):
        return f"could not be evaluated: {str(r.exception_info.get('exception_message')).splitlines()[0]}"
    found = r.result or {}
    if "observed_value" in found:
        return f"observed {_short(found['observed_value'])}"
    if "unexpected_count" not in found:
        return "" if r.success else "not met"  # e.g. a column that exists
    checked = found.get("element_count", 0) - found.get("missing_count", 0)
    text = f"{found['unexpected_count']:,} of {checked:,} values unexpected ({found.get('unexpected_percent', 0):.1f}%)"
    examples = [v for v in found.get("partial_unexpected_list", []) if v is not None and not pd.isna(v)][:3]
    return text + (f", e.g. {', '.join(map(repr, examples))}" if examples else "")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
