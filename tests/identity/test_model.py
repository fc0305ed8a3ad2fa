"""Training's shortcuts: u sampled only where the model lacks it and by helpers at once, no block sizes for training
linkers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from splink import Linker

from identity import model as model_module
from identity import settings as model_settings
from identity.engine import DuckDBEngine
from identity.model import SEED, _estimate_u, _sampled_u, _training_linker, make_linker, read_input
from tests.identity.population import population
from tests.utils.staged import write_staged


@pytest.fixture(scope="module")
def records() -> pa.Table:
    rows, _ = population(households=150)
    con = duckdb.connect()
    write_staged(con, rows)
    return read_input(con)


def test_u_sampled_for_some_comparisons_is_what_a_linker_of_all_of_them_gives(records: pa.Table) -> None:
    """Why the gated shadow can sample its ungated comparisons alone: Splink samples the same pairs for each
    comparison and counts each on its own."""
    shadow = model_settings.settings(gated=False)
    everything = _training_linker(records, shadow, model_module.DUCKDB)
    everything.training.estimate_u_using_random_sampling(max_pairs=2e4, seed=SEED)
    expected = {c["output_column_name"]: c for c in everything.misc.save_model_to_json()["comparisons"]}
    gated = [c for c in shadow["comparisons"] if c["output_column_name"] in model_settings.GATED]
    alone = _sampled_u(records, gated, 2e4, model_module.DUCKDB)
    assert set(alone) == set(model_settings.GATED)
    for name, comparison in alone.items():
        u = [lv.get("u_probability") for lv in comparison["comparison_levels"]]
        assert u == [lv.get("u_probability") for lv in expected[name]["comparison_levels"]]
        assert any(p is not None for p in u)


def test_u_sampled_by_helpers_at_once_is_splinks_own(records: pa.Table, tmp_path: Path) -> None:
    """Each helper samples some of the comparisons; the linker ends with the u (and the record of how it was trained)
    its own sampling gives it."""
    source = model_settings.settings()
    engine = DuckDBEngine({"temp_directory": str(tmp_path / "spill")})
    assert engine.helpers == 2 and engine.helper(1).options["temp_directory"] != engine.options["temp_directory"]
    own = _training_linker(records, source, engine)
    own.training.estimate_u_using_random_sampling(max_pairs=2e4, seed=SEED)
    shared = _training_linker(records, source, engine)
    _estimate_u(shared, records, source, 2e4, engine)
    def trained(linker: Linker) -> list[list[tuple[float | None, list[dict[str, object]]]]]:
        return [[(lv.u_probability, lv._trained_u_probabilities) for lv in c._comparison_levels_excluding_null]
                for c in linker._settings_obj.comparisons]
    assert trained(shared) == trained(own)
    def saved(linker: Linker) -> dict[str, object]:
        return {k: v for k, v in linker.misc.save_model_to_json().items() if k != "linker_uid"}
    assert saved(shared) == saved(own)
    assert sum(lv.u_probability is not None for c in own._settings_obj.comparisons
               for lv in c._comparison_levels_excluding_null) > 20


def test_a_training_linker_reads_no_block_sizes(records: pa.Table) -> None:
    source = model_settings.settings()
    training = _training_linker(records, source, model_module.DUCKDB)
    scoring = make_linker(records, source, model_module.DUCKDB)
    def columns(linker: object) -> set[str]:
        return {c.unquote().name for c in next(iter(linker._input_tables_dict.values())).columns}  # type: ignore[attr-defined]
    sizes = {model_settings.block_size_column(keys) for rule in model_settings.PREDICTION_RULES
             if (keys := model_settings.block_keys(rule)) is not None}
    assert sizes and sizes <= columns(scoring)
    assert not sizes & columns(training)
