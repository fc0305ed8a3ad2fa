"""Learning from the stewards' decisions: every decided pair is a label, 'match' or 'no_match'.

With enough labels (MIN_LABELS, at least MIN_EACH of each kind) a model is refined in two steps:

- m: Splink's `estimate_m_from_pairwise_labels` over the labelled matches, blended with the unsupervised
  (EM) estimate. Labels from the review queue are a biased sample: the stewards see the uncertain pairs
  only, whose matches disagree far more often than matches in general (the sure ones never reach the
  queue). So the labels speak for the uncertain share of the matches only: their weight is the share of
  the expected matches that the review band holds (the sum of match probabilities in the band over the
  sum over all scored pairs), shrunk further while they are few (n / (n + MIN_LABELS)). Labelled
  non-matches are the hard ones too, so they are not used for u (random sampling estimates u well);
  they count in the threshold.
- threshold: the one that maximises F1 on the labelled pairs, scored by the refined model, within
  THRESHOLD_RANGE, once MIN_EACH labels of each kind score within that range (the top of the queue, the
  links the guards cut scored near 1, cannot choose a threshold: see `best_threshold`). It replaces
  `identity.threshold` of cdp.yaml while the model is in use.

The refined model keeps the unsupervised m beside it (LABELS_KEY), so refining again blends with the EM
estimate, not with an earlier blend. Labels are read from the warehouse's `steward_decisions`, which a run
fills after matching: a run learns from the decisions earlier runs imported (`cdp train --with-labels`
imports the latest first, cdp.runner.import_labels).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from splink.internals.splink_dataframe import SplinkDataFrame

from cdp.config import IdentityConfig
from cdp.schema import MATCH_PAIRS, STAGED, STEWARD_DECISIONS
from cdp.warehouse import table_exists
from identity.engine import DUCKDB, Engine
from identity.model import LABELS_KEY, ImplausibleModel, ModelStore, make_linker, with_block_sizes
from identity.plausible import problems

MIN_LABELS = 50
"""Decided pairs needed before labels are used."""
MIN_EACH = 10
"""Of those, at least this many matches and this many non-matches: a threshold needs both sides."""
THRESHOLD_RANGE = (0.5, 0.99)
"""Bounds of a threshold picked from labels: below 0.5 a link is likelier wrong than right."""
GROWTH = 1.2
"""A run refines the model again once the labels have grown by a fifth since it last did."""
UNKNOWN_BAND_SHARE = 0.5
"""The labels' weight before any pairs were scored (never in practice: labels come from scored pairs)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Labels:
    """The latest decision on each decided pair of staged records: unique_id_l, unique_id_r, clerical_match_score."""

    pairs: pa.Table

    @classmethod
    def none(cls) -> Labels:
        """No labels at all."""
        return cls(pa.table({"unique_id_l": pa.array([], pa.string()), "unique_id_r": pa.array([], pa.string()),
                             "clerical_match_score": pa.array([], pa.float64())}))

    @property
    def matches(self) -> int:
        return int(pc.sum(self.pairs["clerical_match_score"]).as_py() or 0)

    @property
    def non_matches(self) -> int:
        return self.pairs.num_rows - self.matches

    def enough(self) -> bool:
        """Whether there are labels enough to learn from (MIN_LABELS, MIN_EACH of each kind)."""
        return self.pairs.num_rows >= MIN_LABELS and min(self.matches, self.non_matches) >= MIN_EACH

    def describe(self) -> str:
        return f"{self.pairs.num_rows} decided pairs ({self.matches} match, {self.non_matches} no match)"


class TooFewLabels(ValueError):
    """Learning from labels was asked for, and the stewards have not decided enough pairs."""


def read_labels(con: duckdb.DuckDBPyConnection) -> Labels:
    """Each pair's latest steward decision in the warehouse, for pairs whose two records are staged."""
    empty = Labels.none()
    if not table_exists(con, STEWARD_DECISIONS) or not table_exists(con, STAGED):
        return empty
    pairs = con.sql(f"""
        select record_id_l as unique_id_l, record_id_r as unique_id_r,
               if(arg_max(decision, "at") = 'match', 1.0, 0.0)::double as clerical_match_score
        from {STEWARD_DECISIONS}
        where record_id_l in (select record_id from {STAGED}) and record_id_r in (select record_id from {STAGED})
        group by all order by all""").to_arrow_table()
    return Labels(pairs.cast(empty.pairs.schema))


def used(model: dict[str, Any]) -> int:
    """How many labels the model learnt from (0 for an unsupervised model)."""
    return int(model.get(LABELS_KEY, {}).get("labels", 0))


def due(model: dict[str, Any], labels: Labels) -> bool:
    """Whether a run should refine `model` with `labels`: enough of them, and grown since it last learnt."""
    return labels.enough() and labels.pairs.num_rows >= max(GROWTH * used(model), used(model) + 1)


def threshold(model: dict[str, Any], default: float) -> float:
    """The threshold the model picked from labels, else `default` (cdp.yaml's identity.threshold)."""
    picked = model.get(LABELS_KEY, {}).get("threshold")
    return default if picked is None else float(picked)


def band_share(con: duckdb.DuckDBPyConnection, band: tuple[float, float]) -> float:
    """The share of the expected matches among the last run's scored pairs that lie in the review band."""
    if not table_exists(con, MATCH_PAIRS):
        return UNKNOWN_BAND_SHARE
    inside, total = con.execute(f"""select sum(match_probability) filter (where match_probability >= ?
        and match_probability < ?), sum(match_probability) from {MATCH_PAIRS}""", list(band)).fetchall()[0]
    return float(inside or 0.0) / total if total else UNKNOWN_BAND_SHARE


def learn(records: pa.Table, model: dict[str, Any], labels: Labels, share: float, default: float,
          engine: Engine = DUCKDB) -> dict[str, Any]:
    """`model` refined by `labels` (see the module's docstring) on `engine`; `share` is `band_share`, `default`
    the threshold of cdp.yaml. TooFewLabels when there are not enough."""
    if not labels.enough():
        raise TooFewLabels(f"the stewards' labels are {labels.describe()}; learning from them needs at least "
                           f"{MIN_LABELS}, with {MIN_EACH} of each kind")
    unsupervised = model.get(LABELS_KEY, {}).get("unsupervised_m") or _m_of(model)
    base = _with_m(model, unsupervised)
    matches = labels.pairs.filter(pc.equal(labels.pairs["clerical_match_score"], 1.0))
    from_labels = _m_from_labels(records, base, matches, engine)
    weight = share * labels.matches / (labels.matches + MIN_LABELS)
    blended = {name: [None if u is None else (1 - weight) * u + weight * (from_labels[name][k] or 0.0)
                      for k, u in enumerate(levels)] for name, levels in unsupervised.items()}
    refined = _with_m(model, blended)
    picked, f1, f1_default = _pick_threshold(records, refined, labels.pairs, default, engine)
    refined[LABELS_KEY] = {"labels": labels.pairs.num_rows, "matches": labels.matches,
                           "non_matches": labels.non_matches, "band_share": round(share, 4),
                           "label_weight": round(weight, 4), "threshold": picked, "f1_on_labels": f1,
                           "f1_on_labels_at_default": f1_default, "default_threshold": default,
                           "unsupervised_m": unsupervised}
    return refined


def _m_of(model: dict[str, Any]) -> dict[str, list[float | None]]:
    """Per comparison, the m of each level that training may change: None for the null and fixed levels,
    and for a level training never saw (Splink's default m scores it; labels leave it so)."""
    return {c["output_column_name"]: [None if lv.get("is_null_level") or lv.get("fix_m_probability")
                                      else lv.get("m_probability") for lv in c["comparison_levels"]]
            for c in model["comparisons"]}


def _with_m(model: dict[str, Any], m: dict[str, list[float | None]]) -> dict[str, Any]:
    """A copy of `model` with those levels' m replaced (None leaves a level as it is)."""
    out = copy.deepcopy({k: v for k, v in model.items() if k != LABELS_KEY})
    for comparison in out["comparisons"]:
        for level, value in zip(comparison["comparison_levels"], m[comparison["output_column_name"]], strict=True):
            if value is not None:
                level["m_probability"] = value
    return out


def _m_from_labels(records: pa.Table, model: dict[str, Any], matches: pa.Table,
                   engine: Engine) -> dict[str, list[float | None]]:
    """m of every trainable level among the labelled matches, by Splink; 0 for a level none of them shows."""
    linker = make_linker(records, model, engine)
    linker.table_management.register_table(matches, "cdp_label_matches", overwrite=True)
    linker.training.estimate_m_from_pairwise_labels("cdp_label_matches")
    # Splink keeps the old m of a level no labelled pair falls in; which levels it estimated is only on
    # its settings object (no public accessor in Splink 5).
    estimated = {c.output_column_name: c for c in linker._settings_obj.comparisons}
    out: dict[str, list[float | None]] = {}
    for name, levels in _m_of(model).items():
        theirs = estimated[name].comparison_levels  # in the settings' order
        out[name] = [None if m is None else theirs[k].m_probability if theirs[k]._has_estimated_m_values else 0.0
                     for k, m in enumerate(levels)]
    return out


def _pick_threshold(records: pa.Table, model: dict[str, Any], pairs: pa.Table, default: float,
                    engine: Engine) -> tuple[float | None, float | None, float]:
    """(threshold or None, F1 on the labels there, F1 on the labels at `default`) under `model`."""
    linker = make_linker(records, model, engine)
    linker.table_management.register_table(pairs, "cdp_labels", overwrite=True)
    table = linker.evaluation.accuracy_analysis_from_labels_table(
        "cdp_labels", output_type="table", match_weight_round_to_nearest=0.01)
    assert isinstance(table, SplinkDataFrame)  # what output_type="table" returns
    rows = [(r["truth_threshold"], r["tp"], r["fp"], r["fn"]) for r in table.as_record_list()]
    picked = best_threshold(rows)
    return (*(picked or (None, None)), f1_at(rows, default))


def best_threshold(rows: list[tuple[float, float, float, float]],
                   least: int = MIN_EACH) -> tuple[float, float] | None:
    """(match probability, F1) maximising F1 over Splink truth-space rows (match weight, tp, fp, fn), as a
    link at or above each labelled pair's weight; ties go to the higher threshold. None unless `least`
    labelled matches and `least` non-matches score within THRESHOLD_RANGE: only those can a threshold decide.

    That keeps the top of the queue from choosing: it holds the links the clustering guards cut, scored
    near 1 and mostly not matches (the guards were right), which no threshold in range would change.
    The threshold sits halfway (in match weight) between the best row and the next lower labelled score,
    so a new pair scoring a little below the lowest labelled match still links, but at most one bit (half
    the odds) lower: far from any label, nothing says where matches stop. Within THRESHOLD_RANGE.
    """
    low, high = THRESHOLD_RANGE
    ordered = sorted(rows)
    inside = [i for i, row in enumerate(ordered) if low <= _probability(row[0]) <= high]
    if not inside:
        return None
    above = ordered[inside[-1] + 1] if inside[-1] + 1 < len(ordered) else (0.0, 0, 0, 0)
    matches, non_matches = ordered[inside[0]][1] - above[1], ordered[inside[0]][2] - above[2]
    if min(matches, non_matches) < least:
        return None
    best = max(inside, key=lambda i: (_f1(*ordered[i][1:]), ordered[i][0]))
    weight = ordered[best][0]
    if best > 0:
        weight = max((weight + ordered[best - 1][0]) / 2, weight - 1)
    return round(min(max(_probability(weight), low), high), 4), round(_f1(*ordered[best][1:]), 4)


def f1_at(rows: list[tuple[float, float, float, float]], threshold: float) -> float:
    """F1 on the labels when pairs at or above `threshold` link."""
    above = [r for r in rows if _probability(r[0]) >= threshold]
    if not above:  # nothing links: every labelled match is missed
        return 0.0
    return round(_f1(*min(above)[1:]), 4)


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _probability(weight: float) -> float:
    return 1 / (1 + 2 ** -weight) if weight > -100 else 0.0


def summary(model: dict[str, Any]) -> str:
    """One line for `cdp model`: whether the model learnt from labels, from how many, and what it picked."""
    info = model.get(LABELS_KEY)
    if not info:
        return "labels: none used (m from unlabelled training; threshold from cdp.yaml)"
    head = f"labels: {info['labels']} used ({info['matches']} match, {info['non_matches']} no match), weight " \
            f"{info['label_weight']:.3f} on m; "
    if info["threshold"] is None:
        low, high = THRESHOLD_RANGE
        return head + (f"threshold from cdp.yaml: fewer than {MIN_EACH} labels of each kind scored within "
                        f"{low}-{high}, where a threshold decides (F1 on the labels at its "
                        f"{info['default_threshold']}: {info['f1_on_labels_at_default']:.4f})")
    return head + (f"threshold {info['threshold']:.4f} (F1 on the labels {info['f1_on_labels']:.4f}; "
                    f"{info['f1_on_labels_at_default']:.4f} at cdp.yaml's {info['default_threshold']})")



def refine(con: duckdb.DuckDBPyConnection, store: ModelStore, records: pa.Table, model: dict[str, Any],
           cfg: IdentityConfig, required: bool = False, engine: Engine = DUCKDB) -> tuple[dict[str, Any], Path | None]:
    """The model to score with: `model` refined by the warehouse's labels and saved as a new version when
    `required` (`cdp train --with-labels`) or `due`; else `model` as it is. Returns (model, new file or None).

    TooFewLabels when required and there are too few; a refined model that is implausible is kept aside
    (ModelStore.reject) and ImplausibleModel raised when required, else the current model stays.
    """
    labels = read_labels(con)
    if not required and not due(model, labels):
        return model, None
    # Block sizes counted once for learn's linkers (the caller counts them only when it trains).
    records = with_block_sizes(records, model)
    refined = learn(records, model, labels, band_share(con, cfg.review_band), cfg.threshold, engine)
    found = problems(refined, records.num_rows)
    if found:
        kept = store.reject(refined, found)
        message = f"the model refined by {labels.describe()} is implausible ({'; '.join(found)}); kept in {kept}"
        if required:
            raise ImplausibleModel(message)
        log.warning("%s; the current model stays", message)
        return model, None
    log.info("match model refined by %s: threshold %s", labels.describe(), refined[LABELS_KEY]["threshold"])
    return refined, store.save(refined)


def threshold_in_use(store: ModelStore, default: float) -> float:
    """The threshold of the model in use (`threshold`), or `default` before there is one."""
    return threshold(store.load(), default) if store.current() is not None else default
