"""A steward's decisions on demo20k, and what they change: F1 before, with the decisions as links, and after
the model learnt from them.

    python -m bench.steward [--work DIR] [--decisions 200]

The demo is run as `cdp run` runs it; a simulated steward then decides the top of the open review queue
from the demo's truth, through the API (`POST /review/candidates/{id}/decision`); then the run is repeated
as `cdp train --with-labels` does after its retraining (the decisions imported first, the current model
refined by them: EM is seeded, so retraining would give the same unsupervised model and cost minutes).
The top of the queue is the links the clustering guards cut, scored near 1: so the steward then decides
as many again among the candidates scored below the threshold, and the run is repeated once more.
Scored as bench.accuracy scores: pairwise precision, recall and F1 of the clusters against the truth.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from bench.accuracy import HEADER, Score, load_truth, pairwise
from bench.datasets import DATASETS
from cdp.config import Config, load_config
from cdp.runner import import_labels, run_pipeline
from cdp.warehouse import open_warehouse
from identity.cluster import cluster_records
from identity.labels import summary, threshold_in_use
from identity.model import ModelStore
from serving.publish import export_source_records

STEWARD = {"X-API-Key": "bench-steward"}


def run(cfg: Config, with_labels: bool = False) -> float:
    """One `cdp run` (or, `with_labels`, `cdp train --with-labels` without the EM retraining); its seconds."""
    start = time.perf_counter()
    if with_labels:  # as `cdp train --with-labels`: the decisions since the last run count too
        import_labels(cfg)
    outcome = run_pipeline(cfg, with_labels=with_labels)
    if not outcome.success:
        raise RuntimeError(f"the run failed: {outcome.failed_steps} {outcome.errors}")
    return time.perf_counter() - start


def score(cfg: Config, system: str, seconds: float) -> Score:
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        records = load_truth(con, cfg.root / "truth.csv")
        return Score("demo20k", system, records, *pairwise(con, "clusters"), seconds)


def person_of(cfg: Config) -> dict[str, str]:
    with (cfg.root / "truth.csv").open(newline="") as f:
        return {f"{r['source']}/{r['source_id']}": r["person_id"] for r in csv.DictReader(f)}


def decide(cfg: Config, count: int, below: float = 1.0) -> list[tuple[str, str, str]]:
    """The top `count` open candidates scored below `below`, decided from the truth through the API;
    (left, right, decision) each."""
    truth, made, cursor = person_of(cfg), [], None
    with TestClient(create_app(cfg)) as client:
        while len(made) < count:
            params = {"status": "open", "limit": 500} | ({"cursor": cursor} if cursor else {})
            page = client.get("/review/candidates", params=params, headers=STEWARD)
            page.raise_for_status()
            for item in [i for i in page.json()["items"] if i["match_probability"] < below][:count - len(made)]:
                left, right = (f"{item[s]['source']}/{item[s]['source_id']}" for s in ("left", "right"))
                decision = "match" if truth[left] == truth[right] else "no_match"
                answer = client.post(f"/review/candidates/{item['candidate_id']}/decision", headers=STEWARD,
                                     json={"decision": decision, "note": "bench.steward, from the demo's truth"})
                answer.raise_for_status()
                made.append((left, right, decision))
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
    return made


def crosswalk(cfg: Config, work: Path) -> dict[str, str]:
    out = work / "crosswalk.csv"
    export_source_records(cfg.serving, out)
    with out.open(newline="") as f:
        return {f"{r['source']}/{r['source_id']}": r["customer_id"] for r in csv.DictReader(f)}


def as_links(cfg: Config) -> Score:
    """The decisions honoured as must- and cannot-links by clustering the first run's scores again."""
    start = time.perf_counter()
    import_labels(cfg)
    with open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con:
        cluster_records(con, threshold_in_use(ModelStore(cfg.state_dir / "models"), cfg.identity.threshold),
                        cfg.identity.max_cluster_size)
    return score(cfg, "+ decisions as links", time.perf_counter() - start)


def honoured(made: list[tuple[str, str, str]], ids: dict[str, str]) -> int:
    return sum((ids[a] == ids[b]) == (d == "match") for a, b, d in made)


def learnt(cfg: Config, work: Path, made: list[tuple[str, str, str]], system: str,
           before: dict[str, str]) -> Score:
    """Re-run with the labels; print what the model learnt, the decisions honoured and the ids kept."""
    result = score(cfg, system, run(cfg, with_labels=True))
    after = crosswalk(cfg, work)
    kept = sum(after.get(r) == c for r, c in before.items())
    print(f"{system}: {summary(ModelStore(cfg.state_dir / 'models').load())}\n"
          f"  decisions honoured in the crosswalk: {honoured(made, after)} of {len(made)}; "
          f"records keeping their customer id: {kept:,} of {len(before):,} ({kept / len(before):.2%})", flush=True)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", help="folder for the demo and its warehouse (default: a temp dir)")
    ap.add_argument("--decisions", type=int, default=200, help="candidates the steward decides (default 200)")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-steward-"))
    os.environ["CDP_API_KEYS"] = f"{STEWARD['X-API-Key']}:steward"
    cfg = load_config(DATASETS["demo20k"](work / "demo20k"))
    scores = [score(cfg, "cdp run", run(cfg))]
    before = crosswalk(cfg, work)
    made = decide(cfg, args.decisions)
    print(f"top {len(made)} of the queue decided: {sum(d == 'match' for *_, d in made)} match", flush=True)
    scores.append(as_links(cfg))
    scores.append(learnt(cfg, work, made, f"+ model learnt from the {len(made)}", before))
    more = decide(cfg, args.decisions, below=cfg.identity.threshold)
    print(f"next {len(more)} scored below the threshold decided: {sum(d == 'match' for *_, d in more)} match",
          flush=True)
    scores.append(learnt(cfg, work, made + more, f"+ {len(more)} more below the threshold, learnt", before))
    print(HEADER)
    print("\n".join(s.row() for s in scores))


if __name__ == "__main__":
    main()
