"""Learning from the stewards' decisions: labels move m the way they should and pick the threshold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from cdp.cli import main
from cdp.config import IdentityConfig, load_config
from cdp.schema import STEWARD_DECISIONS, ensure_tables
from identity import labels
from identity.matching import match
from identity.model import LABELS_KEY, ModelStore, make_linker, read_input
from identity.settings import settings
from tests.utils.staged import staged_row, write_staged

PEOPLE, STRANGERS = 30, 25


def _records() -> list[dict[str, Any]]:
    """Each person twice, moved with a new email the second time; a namesake of each of the first STRANGERS at the
    same street, with another email and no phone or birth date: close, but less so than the person's pair."""
    rows = []
    for i in range(PEOPLE):
        person = {"first_name": f"ANNA{chr(65 + i % 26)}{i}", "last_name": f"ZED{i}", "phone": f"+1555{i:07d}",
                  "birth_date": dt.date(1960, 1, 1) + dt.timedelta(days=97 * i), "street": f"{i} OAK ST"}
        rows.append(staged_row("crm", f"a{i}", email=f"anna{i}@old.example", **person))
        rows.append(staged_row("shop", f"b{i}", **(person | {"email": f"qx{i}w@new.example", "street": "1 NEW RD"})))
        if i < STRANGERS:
            rows.append(staged_row("crm", f"c{i}", first_name=person["first_name"], last_name=f"ZED{i}",
                                   street=f"{i} OAK ST", email=f"otto{i}@x.example"))
    return rows


def _decisions() -> list[tuple[str, str, str]]:
    same = [(f"crm:a{i}", f"shop:b{i}", "match") for i in range(PEOPLE)]
    return same + [(f"crm:a{i}", f"crm:c{i}", "no_match") for i in range(STRANGERS)]


@pytest.fixture(scope="module")
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    write_staged(con, _records())
    ensure_tables(con, STEWARD_DECISIONS)
    at = dt.datetime(2026, 11, 1)
    con.executemany(f"insert into {STEWARD_DECISIONS} values (?, ?, ?, 'ann', null, ?)",
                    [(left, right, decision, at) for left, right, decision in _decisions()])
    return con


@pytest.fixture(scope="module")
def unsupervised(warehouse: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    return a_model(warehouse)


def a_model(warehouse: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """A model as EM might leave it, without the minutes of training: each trainable level half as likely
    among matches as the one before it, and twice as likely among strangers."""
    model = make_linker(read_input(warehouse), settings()).misc.save_model_to_json()
    # scores the namesakes and the people's pairs (once refined) where a threshold decides: 0.5-0.99
    model["probability_two_random_records_match"] = 0.005
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"]
                  if not lv.get("is_null_level") and not lv.get("fix_m_probability")]
        total = sum(0.5 ** k for k in range(len(levels)))
        for k, level in enumerate(levels):
            level.update(m_probability=0.5 ** k / total, u_probability=0.5 ** (len(levels) - 1 - k) / total)
    return model


def _email_m(model: dict[str, Any]) -> tuple[float, float]:
    """m of the email comparison's 'exact' and 'different' levels."""
    levels = next(c for c in model["comparisons"] if c["output_column_name"] == "email")["comparison_levels"]
    return levels[1]["m_probability"], levels[-1]["m_probability"]


def test_the_latest_decision_on_each_staged_pair_is_its_label(warehouse: duckdb.DuckDBPyConnection) -> None:
    warehouse.execute(f"""insert into {STEWARD_DECISIONS} values ('crm:a0', 'shop:b0', 'no_match', 'bo', null,
        '2026-10-01'), ('crm:a0', 'gone:1', 'match', 'bo', null, now())""")
    found = labels.read_labels(warehouse)
    warehouse.execute(f"delete from {STEWARD_DECISIONS} where who = 'bo'")
    assert (found.matches, found.non_matches) == (PEOPLE, STRANGERS)  # the older no_match lost; gone:1 is not staged
    assert found.enough()
    assert not labels.Labels(found.pairs.slice(0, PEOPLE)).enough()  # matches only: no threshold from one side


def test_labelled_matches_with_new_emails_make_a_changed_email_likelier_among_matches(
        warehouse: duckdb.DuckDBPyConnection, unsupervised: dict[str, Any]) -> None:
    records, found = read_input(warehouse), labels.read_labels(warehouse)
    refined = labels.learn(records, unsupervised, found, share=1.0, default=0.9)
    exact, different = _email_m(unsupervised)
    new_exact, new_different = _email_m(refined)
    weight = PEOPLE / (PEOPLE + labels.MIN_LABELS)  # share 1: the labels' weight is their count's
    assert new_different == pytest.approx((1 - weight) * different + weight * 1.0)
    assert new_exact == pytest.approx((1 - weight) * exact)
    info = refined[LABELS_KEY]
    assert (info["labels"], info["matches"], info["non_matches"]) == (PEOPLE + STRANGERS, PEOPLE, STRANGERS)
    again = labels.learn(records, refined, found, share=1.0, default=0.9)
    assert _email_m(again) == pytest.approx(_email_m(refined))  # blended with the EM m kept aside, not compounded


def test_the_threshold_from_labels_parts_the_refined_scores_of_the_two_kinds(
        warehouse: duckdb.DuckDBPyConnection, unsupervised: dict[str, Any]) -> None:
    # the namesakes score ~0.59, the people's pairs ~0.98 (5 at 0.99+, beyond where a threshold decides)
    refined = labels.learn(read_input(warehouse), unsupervised, labels.read_labels(warehouse), share=0.3,
                           default=0.9)
    info = refined[LABELS_KEY]
    assert info["f1_on_labels"] == 1.0
    assert 0.9 < info["threshold"] < 0.98  # one bit below the people's pairs: halfway down is further
    assert labels.threshold(refined, 0.9) == info["threshold"]


# Truth-space rows (match weight, tp, fp, fn): matches scored 6, 4 and 2 bits, non-matches 0 and -3.
ROWS = [(6.0, 1, 0, 2), (4.0, 2, 0, 1), (2.0, 3, 0, 0), (0.0, 3, 1, 0), (-3.0, 3, 2, 0)]


def test_the_threshold_is_the_best_f1_a_bit_below_the_lowest_labelled_match() -> None:
    # F1 is 1 at 2 bits; halfway to the non-match at 0, one bit lower: probability 2/3
    assert labels.best_threshold(ROWS, least=1) == (pytest.approx(2 / 3, abs=1e-4), 1.0)
    assert labels.f1_at(ROWS, 0.9) == pytest.approx(0.8)  # 0.9 is 3.2 bits: the match at 2 is missed


def test_a_threshold_needs_labels_of_both_kinds_where_a_threshold_decides() -> None:
    assert labels.best_threshold(ROWS) is None  # one non-match in 0.5-0.99, not MIN_EACH
    all_matches = [(6.0, 1, 0, 4), (4.0, 2, 0, 3), (2.0, 3, 0, 2), (0.0, 4, 0, 1), (-3.0, 5, 0, 0)]
    assert labels.best_threshold(all_matches, least=1) is None
    # the guards' cut links, scored near 1: many labels, none a threshold in range would decide
    cut_links = [(12.0, 10, 60, 0), (11.0, 20, 90, 0), (-2.0, 20, 90, 5)]
    assert labels.best_threshold(cut_links, least=1) is None


def test_a_threshold_from_labels_stays_in_its_range() -> None:
    low = [(3.0, 1, 1, 3), (0.0, 4, 1, 0), (-3.0, 4, 3, 0)]  # best at 0 bits (0.5): a bit lower is below the range
    assert labels.best_threshold(low, least=1) == (labels.THRESHOLD_RANGE[0], pytest.approx(8 / 9, abs=1e-4))


def test_too_few_labels_are_refused_and_not_due(unsupervised: dict[str, Any]) -> None:
    few = labels.Labels(pa.table({"unique_id_l": ["a"], "unique_id_r": ["b"], "clerical_match_score": [1.0]}))
    assert not labels.due(unsupervised, few)
    with pytest.raises(labels.TooFewLabels, match="1 decided pairs.*at least 50"):
        labels.learn(pa.table({}), unsupervised, few, share=1.0, default=0.9)


def test_matching_with_labels_saves_a_refined_version_and_links_at_its_threshold(
        warehouse: duckdb.DuckDBPyConnection, unsupervised: dict[str, Any], tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    store.save(unsupervised)
    stats = match(warehouse, IdentityConfig(), store, with_labels=True)
    model = store.load()
    assert (stats.model, stats.labels, stats.threshold) == ("model-2.json", PEOPLE + STRANGERS,
                                                            labels.threshold(model, IdentityConfig().threshold))
    assert labels.summary(model).startswith(f"labels: {PEOPLE + STRANGERS} used")
    again = match(warehouse, IdentityConfig(), store)  # not grown since: not refined again
    assert (again.model, again.trained) == ("model-2.json", False)


def _project(folder: Path) -> str:
    (folder / "shop.csv").write_text("id,email\n1,a@x.com\n")
    (folder / "cdp.yaml").write_text("sources:\n  shop:\n    connector: csv\n    path: shop.csv\n    key: id\n"
                                     "    fields: {email: email}\n")
    return str(folder / "cdp.yaml")


def test_cdp_train_with_labels_refuses_too_few_and_runs_nothing(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = _project(tmp_path)
    assert main(["train", "--with-labels", "--config", config]) == 1
    assert "0 decided pairs (0 match, 0 no match); --with-labels needs at least 50" in capsys.readouterr().err
    assert not load_config(config).warehouse_path.exists()


def test_cdp_model_says_how_many_labels_the_model_learnt_from(
        warehouse: duckdb.DuckDBPyConnection, unsupervised: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _project(tmp_path)
    store = ModelStore(load_config(config).state_dir / "models")
    store.save(unsupervised)
    assert main(["model", "--config", config]) == 0
    assert "labels: none used" in capsys.readouterr().out
    store.save(labels.learn(read_input(warehouse), unsupervised, labels.read_labels(warehouse), share=1.0,
                            default=0.9))
    assert main(["model", "--config", config]) == 0
    assert f"labels: {PEOPLE + STRANGERS} used ({PEOPLE} match, {STRANGERS} no match)" in capsys.readouterr().out
