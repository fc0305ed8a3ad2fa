"""Is a trained model plausible? Unsupervised training can go degenerate without any error.

Expectation maximisation on data it cannot separate well (names and birth dates only, few clean
duplicates) may settle on a solution where a near agreement is likelier among matches than an
exact one (birth date "exact" m = 0.02, "one digit off" m = 0.88), or on a prior of a fraction of
one matching pair in the whole data set. Such a model scores without error and finds almost
nothing, so each problem is named here, by comparison, level and value, for the run to stop on.
"""

from __future__ import annotations

from math import log2
from typing import Any

MIN_EXPECTED_MATCHES = 1.0
"""The prior times the number of record pairs: below one matching pair in the whole data is not a model."""
MAX_PRIOR = 0.5
NOT_ORDERED = ("middle_name", "area")
"""Comparisons whose first level need not lead: a silo that keeps middle initials makes 'initial' the commoner
agreement among matches, and people who move keep their city more often than their postcode."""


def problems(model: dict[str, Any], records: int) -> list[str]:
    """What is implausible in `model` trained on `records` records, each naming the parameter; [] when none."""
    found = _prior(model["probability_two_random_records_match"], records)
    for comparison in model["comparisons"]:
        found += _exact_first(comparison)
    return found


def _prior(prior: float, records: int) -> list[str]:
    pairs = records * (records - 1) / 2
    if prior > MAX_PRIOR:
        return [f"probability_two_random_records_match = {prior:.3g}: more than half of all pairs would match"]
    if pairs and prior * pairs < MIN_EXPECTED_MATCHES:
        return [f"probability_two_random_records_match = {prior:.3g}: fewer than {MIN_EXPECTED_MATCHES:g} matching "
                f"pair expected among {pairs:,.0f} pairs of {records:,} records"]
    return []


def _exact_first(comparison: dict[str, Any]) -> list[str]:
    """A comparison's first agreement level (its closest) must be at least as likely among matches as any other
    trained agreement level; fixed levels (a household's weight 0) and the final 'different' level aside."""
    if comparison["output_column_name"] in NOT_ORDERED:
        return []
    levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    trained = [lv for lv in levels[:-1] if lv.get("m_probability") is not None and not lv.get("fix_m_probability")]
    if len(trained) < 2 or trained[0] is not levels[0]:
        return []
    exact = trained[0]
    name = comparison["output_column_name"]
    return [f"{name}: m of '{lv['label_for_charts']}' ({lv['m_probability']:.3g}) exceeds m of "
            f"'{exact['label_for_charts']}' ({exact['m_probability']:.3g}): a near agreement cannot be likelier "
            "among matches than an exact one" for lv in trained[1:] if lv["m_probability"] > exact["m_probability"]]


Weight = tuple[str, str, float | None, float | None, float | None]


def weights(model: dict[str, Any]) -> list[Weight]:
    """(comparison, level, m, u, match weight) of every non-null level, for `cdp model` and asset metadata."""
    rows = []
    for comparison in model["comparisons"]:
        for lv in comparison["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            m, u = lv.get("m_probability"), lv.get("u_probability")
            weight = log2(m / u) if m and u else None
            rows.append((comparison["output_column_name"], lv["label_for_charts"], m, u, weight))
    return rows


def weights_table(model: dict[str, Any]) -> str:
    """The match weight of every level as a Markdown table (log2 of m/u: what agreeing at that level adds)."""
    def number(value: float | None, digits: str) -> str:
        return "untrained" if value is None else format(value, digits)

    lines = [f"prior (probability two random records match): {model['probability_two_random_records_match']:.3g}",
             "", "| comparison | level | m | u | weight |", "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {c} | {lv} | {number(m, '.4g')} | {number(u, '.4g')} | {number(w, '+.2f')} |"
              for c, lv, m, u, w in weights(model)]
    return "\n".join(lines)
