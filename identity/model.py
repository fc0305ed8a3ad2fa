"""Training the Splink model without labels, and keeping trained models as versioned JSON.

Models live beside the warehouse in `<state_dir>/models/model-<n>.json`; the file `current`
there names the one in use, so a run reuses it until someone retrains (`cdp train`).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from splink import Linker
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison import Comparison

from cdp.schema import STAGED
from identity import settings as model_settings
from identity.engine import DUCKDB, Engine
from identity.plausible import problems

# The Splink input: one row per staged record, with the few derived columns comparisons use.
# Spaces go from names and places: "DE VOGA"/"DEVOGA" and "JERVOIS STREET"/"JERVOISSTREET" are
# the same value typed twice, and a space is the commonest typo in both.
# dob_year: no current rule uses it, but models saved before 26 Nov 2026 block on it.
INPUT_SQL = """
select record_id as unique_id, source,
       replace(first_name, ' ', '') as first_name, first_name_root, middle_name,
       replace(last_name, ' ', '') as last_name, name_suffix,
       email, split_part(email, '@', 1) as email_user, phone,
       replace(street, ' ', '') as street, replace(city, ' ', '') as city, postcode, tax_id,
       strftime(birth_date, '%Y%m%d') as dob, year(birth_date) as dob_year
from {table}
"""

# u sampling costs ~8 s per million pairs on 2 cores; beyond a few million the estimates barely move.
U_MAX_PAIRS = 3e6
U_MIN_PAIRS = 1.2e6
EM_MAX_PAIRS = 5e5
M_FLOOR = 1e-6
# Least m of a contact's "different" level: weighs at most log2(0.05) = -4.3 against a match.
CONTACT_CHANGE = 0.05
SEED = 42
LABELS_KEY = "cdp_labels"
"""What a model learnt from the stewards' labels (identity.labels), kept in its file beside Splink's settings."""

log = logging.getLogger(__name__)


def read_input(con: duckdb.DuckDBPyConnection, table: str = STAGED) -> pa.Table:
    """Records of a staged-shaped table in the shape the model compares."""
    return con.sql(INPUT_SQL.format(table=table)).to_arrow_table()


def with_block_sizes(records: pa.Table, model: dict[str, Any], among: pa.Table | None = None) -> pa.Table:
    """`records` with the block size columns the model's capped prediction rules read (`settings.capped`) and
    `records` lacks: per record, how many records share its keys under the rule (records of `among`, when given:
    the sizes of a few records among all, counting only their own keys' blocks)."""
    sizes = {}
    for rule in model_settings.prediction_rules(model):
        keys = model_settings.block_keys(rule)
        if keys is None:
            continue
        column = model_settings.block_size_column(keys)
        if f"l.{column}" in rule and column not in records.column_names:
            sizes[column] = keys
    if not sizes:
        return records
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        con.register("records", records)
        con.register("among", records if among is None else among)
        # A count per key joined back by the key's hash: a fifth of the CPU of a window per rule (2.7 s at 1M
        # records); NULL keys get a count too, and pair nothing anyway.
        joins = []
        for i, (name, keys) in enumerate(sizes.items()):
            key = f"hash({', '.join(keys)})"
            only = "" if among is None else f"where {key} in (select {key} from records)"
            joins.append(f"left join (select {key} as key_{i}, count(*) as {name} from among {only} group by 1) "
                         f"on key_{i} = {key}")
        return con.sql(f"select records.*, {', '.join(sizes)} from records {' '.join(joins)}").to_arrow_table()
    finally:
        con.close()


def make_linker(records: pa.Table, model: dict[str, Any], engine: Engine = DUCKDB) -> Linker:
    """A Linker over `records` on `engine` (by default its own in-memory DuckDB, so Splink's work tables
    stay out of the warehouse)."""
    settings = {k: v for k, v in model.items() if k != LABELS_KEY}  # Splink refuses unknown keys
    return engine.linker(with_block_sizes(records, model), settings)


def saved(linker: Linker, source: dict[str, Any]) -> dict[str, Any]:
    """The linker's model as JSON, with the SQL of `source`, the settings it was built from.

    Model files keep DuckDB's SQL whichever engine trained them (an engine rewrites it for itself in
    `Engine.settings`), so a model trained on Spark scores on DuckDB and the other way round.
    """
    model = linker.misc.save_model_to_json()
    for comparison, theirs in zip(model["comparisons"], source["comparisons"], strict=True):
        for level, original in zip(comparison["comparison_levels"], theirs["comparison_levels"], strict=True):
            level["sql_condition"] = original["sql_condition"]
    rules = "blocking_rules_to_generate_predictions"
    return model | {rules: source.get(rules, []), "sql_dialect": "duckdb"}


def train(records: pa.Table, engine: Engine = DUCKDB) -> dict[str, Any]:
    """Fit the model on unlabelled records: prior from sure rules, u by sampling, m by EM."""
    source = model_settings.settings()
    linker = _training_linker(records, source, engine)
    training = linker.training
    sure: list[str | BlockingRuleCreator] = [*model_settings.DETERMINISTIC_RULES]
    training.estimate_probability_two_random_records_match(sure, recall=model_settings.DETERMINISTIC_RECALL)
    u_pairs = min(U_MAX_PAIRS, max(U_MIN_PAIRS, 300 * records.num_rows))
    _estimate_u(linker, records, source, u_pairs, engine)
    # e.g. no source maps tax_id: the other rules train what they can (Splink's own error for an empty rule
    # leaves the model half-updated, so look first; once, for both linkers)
    rules = [rule for rule in model_settings.TRAINING_RULES if _has_pairs(records, rule)]
    for rule in rules:
        training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)
    model = saved(linker, source)
    # Splink keeps its samples and EM tables (GBs at a million records) until the linker is collected: drop them
    # before the next linker starts its own.
    linker.table_management.delete_tables_created_by_splink_from_db()
    _train_gated(records, model, u_pairs, rules, engine)
    return model


def _estimate_u(linker: Linker, records: pa.Table, source: dict[str, Any], pairs: float, engine: Engine) -> None:
    """What `linker.training.estimate_u_using_random_sampling` does, the comparisons shared among `engine.helpers`
    linkers sampling at once.

    Splink counts each comparison's levels on its own over the same sampled pairs (a function of the record ids and
    the seed), one comparison after another, and DuckDB compares a sample of a few thousand records on one thread:
    at 1M records 23 s on one core of two. Each helper samples some of the comparisons; their trained u are added to
    `linker` as its own sampling adds them.
    """
    comparisons = source["comparisons"]
    shares = [comparisons[k::engine.helpers] for k in range(engine.helpers)]

    def sample(k: int) -> dict[str, Comparison]:
        helper = _u_sampled(records, source | {"comparisons": shares[k]}, pairs, engine.helper(k))
        helper.table_management.delete_tables_created_by_splink_from_db()
        return {c.output_column_name: c for c in helper._settings_obj.comparisons}

    with ThreadPoolExecutor(len(shares), thread_name_prefix="train-u") as pool:
        sampled = {name: c for found in pool.map(sample, range(len(shares))) for name, c in found.items()}
    for comparison in linker._settings_obj.comparisons:
        theirs = sampled[comparison.output_column_name]
        for level in comparison._comparison_levels_excluding_null:
            trained = theirs._get_comparison_level_by_comparison_vector_value(level.comparison_vector_value)
            for u in trained._trained_u_probabilities:
                level._add_trained_u_probability(u["probability"], u["description"])
    linker._populate_m_u_from_trained_values()


def _training_linker(records: pa.Table, model: dict[str, Any], engine: Engine) -> Linker:
    """A linker for training only: training never blocks for predictions, so without those rules it needs no
    block size columns (`with_block_sizes`: 3.5 CPU s a linker at 1M records when `records` lacks them)."""
    return make_linker(records, model | {"blocking_rules_to_generate_predictions": []}, engine)


def _train_gated(records: pa.Table, model: dict[str, Any], u_pairs: float, rules: list[str], engine: Engine) -> None:
    """Give the gated comparisons (`settings.GATED`) the m (and contacts the u) their ungated form learns, in place.

    A contact's gate (could the two be one person?) reads names, birth dates and tax ids, and the last
    name's changed-surname level reads the birth date, email and phone: every training rule blocks on
    one of those, so Splink would leave these comparisons untrained in every session, at its default m,
    where a changed phone alone weighs about -6. Ungated, the sessions on names and birth dates see them;
    among true matches the gate almost always holds, so the ungated m is the gated one. The fixed
    levels (weight 0) stay as they are. `rules`: the training rules that have pairs.
    """
    shadow = model_settings.settings(gated=False)
    shadow["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    # A tenth of the main sample gives the u of the levels that matter (a shared postcode, a city); the
    # rarest (a shared street) keep the main sample's.
    ungated = _sampled_u(records, [c for c in shadow["comparisons"] if c["output_column_name"] in model_settings.GATED],
                         u_pairs / 10, engine)
    # The other comparisons stay as trained, u from the main sample included: only the gated ones are learnt here.
    shadow["comparisons"] = [ungated[c["output_column_name"]] if c["output_column_name"] in ungated else _fixed(t)
                             for c, t in zip(shadow["comparisons"], model["comparisons"], strict=True)]
    linker = _training_linker(records, shadow, engine)
    for rule in rules:
        before = saved(linker, shadow)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=EM_MAX_PAIRS)
        except ValueError as exc:  # Splink refuses to go on from an m of exactly 0; the other sessions still teach
            log.warning("training the gated comparisons on %s stopped: %s", rule, exc)
            # The failed session leaves the linker without the comparisons it had set aside: start again from before.
            linker.table_management.delete_tables_created_by_splink_from_db()
            linker = _training_linker(records, before, engine)
    learnt = {c["output_column_name"]: c for c in linker.misc.save_model_to_json()["comparisons"]}
    linker.table_management.delete_tables_created_by_splink_from_db()
    for comparison in model["comparisons"]:
        name = comparison["output_column_name"]
        if name in model_settings.GATED:
            _carry(learnt[name], comparison, contact=name in model_settings.CONTACTS)


def _sampled_u(records: pa.Table, comparisons: list[dict[str, Any]], pairs: float,
               engine: Engine) -> dict[str, dict[str, Any]]:
    """`comparisons` with the u that random sampling of `pairs` pairs gives them, by output column name.

    Sampling only these: Splink samples each comparison of a linker on its own (the same pairs, the same
    u whatever else the linker compares), and the others already have the main sample's u.
    """
    source = model_settings.settings() | {"comparisons": comparisons}
    linker = _u_sampled(records, source, pairs, engine)
    sampled = saved(linker, source)["comparisons"]
    linker.table_management.delete_tables_created_by_splink_from_db()
    return {c["output_column_name"]: c for c in sampled}


def _u_sampled(records: pa.Table, source: dict[str, Any], pairs: float, engine: Engine) -> Linker:
    """A training linker of `source` with the u Splink's random sampling of `pairs` pairs gives it."""
    linker = _training_linker(records, source, engine)
    linker.training.estimate_u_using_random_sampling(max_pairs=pairs, seed=SEED)
    return linker


def _carry(ungated: dict[str, Any], gated: dict[str, Any], contact: bool) -> None:
    """The ungated form's learnt m onto the gated comparison's trainable levels, level for level; for a
    contact also the u of its agreeing levels.

    A contact's gated u is the share of random pairs that agree *and* pass the gate, so it folds in how
    rarely strangers' names are compatible, which the name comparisons already count: a shared
    postcode weighed +17.8 where it is worth +12.8. The ungated u is the share that agree.
    """
    mine = _trainable(gated)
    for k, (level, theirs) in enumerate(zip(mine, _trainable(ungated), strict=True)):
        carried = ("m_probability", "u_probability") if contact and k < len(mine) - 1 else ("m_probability",)
        for p in carried:
            if theirs.get(p) is not None:
                level[p] = theirs[p]
    if contact:  # people move and change numbers: however rare that was in training, a changed contact is no proof
        mine[-1]["m_probability"] = max(mine[-1].get("m_probability") or 0.0, CONTACT_CHANGE)


def _fixed(comparison: dict[str, Any]) -> dict[str, Any]:
    """A trained comparison whose m training must leave as it is."""
    levels = [lv if lv.get("m_probability") is None else
              lv | {"m_probability": max(lv["m_probability"], M_FLOOR), "fix_m_probability": True}
              for lv in comparison["comparison_levels"]]
    return comparison | {"comparison_levels": levels}


def _trainable(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    return [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")
            and not lv.get("fix_m_probability")]


def _has_pairs(records: pa.Table, rule: str, enough: int = 100) -> bool:
    """Whether a blocking rule yields at least `enough` pairs of records to learn from."""
    sql = f"select count(*) from (select 1 from records l join records r on {rule} and l.unique_id < r.unique_id " \
          f"limit {enough})"
    with duckdb.connect() as con:
        con.register("records", records)
        return con.execute(sql).fetchall()[0][0] >= enough


@dataclass(frozen=True)
class ModelStore:
    """Versioned model files in one folder plus a pointer to the one in use."""

    folder: Path

    @property
    def pointer(self) -> Path:
        return self.folder / "current"

    def current(self) -> Path | None:
        """The model in use, or None before the first training."""
        if not self.pointer.exists():
            return None
        path = self.folder / self.pointer.read_text().strip()
        return path if path.exists() else None

    def save(self, model: dict[str, Any]) -> Path:
        """Write `model` as the next version and point `current` at it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        versions = [int(p.stem.split("-")[1]) for p in self.folder.glob("model-*.json")]
        path = self.folder / f"model-{max(versions, default=0) + 1}.json"
        path.write_text(json.dumps(model, indent=2))
        self.pointer.write_text(path.name)
        return path

    def reject(self, model: dict[str, Any], found: list[str]) -> Path:
        """Keep an implausible model for inspection, beside the versions but never `current`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"rejected-{len(list(self.folder.glob('rejected-*.json'))) + 1}.json"
        path.write_text(json.dumps({"problems": found, "model": model}, indent=2))
        return path

    def load(self, name: str | None = None) -> dict[str, Any]:
        """The model in use, or the version `name` (a file name `save` gave) when it is still here."""
        path = self.folder / name if name and (self.folder / name).is_file() else self.current()
        if path is None:
            raise FileNotFoundError(f"no trained model in {self.folder}")
        return json.loads(path.read_text())


def model_for(store: ModelStore, records: pa.Table, retrain: bool = False,
              engine: Engine = DUCKDB) -> tuple[dict[str, Any], Path, bool]:
    """The current model, trained first (on `engine`) when asked or when there is none.

    Returns (model, file, trained)."""
    current = store.current()
    if current is not None and not retrain:
        return store.load(), current, False
    log.info("training the match model on %d records", records.num_rows)
    model = train(records, engine)
    found = problems(model, records.num_rows)
    if found:
        kept = store.reject(model, found)
        raise ImplausibleModel(f"the trained match model is implausible ({'; '.join(found)}); it was not put in "
                               f"use (kept in {kept}); the previous model, if any, stays current")
    path = store.save(model)
    return store.load(), path, True


class ImplausibleModel(ValueError):
    """Training settled on a model that cannot be right (identity.plausible names what)."""
