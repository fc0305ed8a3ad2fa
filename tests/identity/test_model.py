"""Training's shortcuts: u sampled only where the model lacks it, no block sizes for training linkers."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from identity import model as model_module
from identity import settings as model_settings
from identity.model import SEED, _sampled_u, _training_linker, make_linker, read_input
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
