"""The plain Splink model most people would write first, as the yardstick for ours.

Independent comparisons on names, email, phone, address, date of birth (and tax id when present),
term frequencies on names, trained the usual unsupervised way, connected components at 0.9.
"""

from __future__ import annotations

import logging

import duckdb
import pyarrow as pa
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

INPUT_SQL = """
select record_id as unique_id, first_name, last_name, email, phone, street, postcode, birth_date, tax_id
from staged
"""


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            cl.LevenshteinAtThresholds("street", [1, 3]),
            cl.ExactMatch("postcode"),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("tax_id"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"), block_on("phone"), block_on("tax_id"),
            block_on("first_name", "last_name"), block_on("last_name", "birth_date"),
            block_on("first_name", "birth_date"), block_on("postcode", "last_name"),
        ],
    )


def baseline_clusters(con: duckdb.DuckDBPyConnection, threshold: float = 0.9) -> pa.Table:
    """(record_id, cluster_id) of every staged record under the plain model.

    Raises ValueError when Splink's training degenerates (an m probability of 0 on small data).
    """
    db_api = DuckDBAPI()
    records = db_api.register(con.sql(INPUT_SQL).to_arrow_table(), table_name="records")
    linker = Linker(records, settings(), log_level=logging.WARNING)
    training = linker.training
    training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date"), block_on("email")], recall=0.7
    )
    training.estimate_u_using_random_sampling(max_pairs=3e6, seed=42)
    training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"), max_pairs=2e6)
    training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "last_name"), max_pairs=2e6)
    predictions = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    sql = f"select unique_id as record_id, cluster_id from {clusters.physical_name}"
    return db_api.duckdb_con.sql(sql).to_arrow_table()
