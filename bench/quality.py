"""Benchmark: what the quality suites add to the run time of the pipeline they gate, at ~1M records.

    python -m bench.quality                                       # ~1M records per side; ~5 minutes
    python -m bench.quality --silos 33000 --households 21000      # ~100k records per side

Two passes in one process, each on fresh warehouses: the pipeline without the suites, then with
each stage's gate right after the stage, as the blocking checks run in `cdp run` (the gates are
the functions the checks call; Great Expectations' import, paid once per run, counts as a gate).

Ingestion side: bench/silos.py's three messy silos (--silos records each): load, standardise,
unions; gates raw_<source> and staged_<source>. Identity side: bench/profiles.py's synthetic
people (--households), clustered as the truth says: customer ids, golden profiles, traits; gates
clusters, customers, golden. Matching is not run (bench/scale.py times it: minutes at this size),
so the pipeline time here is the smaller part of a real run and the share printed is an upper bound.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.profiles import stage as stage_people
from bench.silos import write_silos
from cdp.config import Config, IdentityConfig, load_config
from cdp.warehouse import open_warehouse
from identity.golden import build_golden
from identity.ids import assign_customer_ids
from identity.traits import build_traits
from ingestion.load import load_source
from ingestion.stage import build_unions, stage_source
from quality.outcome import Outcome

RUN = "bench"


class Clock:
    """Seconds spent in pipeline steps and in gates, per step, for one pass."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self.gates: dict[str, float] = {}
        self.findings: list[str] = []

    def step(self, label: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        self.steps[label] = time.perf_counter() - start
        return out

    def gate(self, label: str, fn: Callable[[], Outcome | None]) -> None:
        start = time.perf_counter()
        outcome = fn()
        self.gates[label] = time.perf_counter() - start
        self.findings += [f"{label}: {f.line()}" for f in outcome.findings] if outcome else []


def ingestion_pass(cfg: Config, clock: Clock, gates: ModuleType | None) -> None:
    """Load and stage every silo on a fresh warehouse; with `gates`, each stage's gate after it."""
    cfg.warehouse_path.unlink(missing_ok=True)
    with open_warehouse(cfg.warehouse_path) as con:
        for name, src in cfg.sources.items():
            clock.step(f"load {name}", partial(load_source, con, name, src))
            if gates:
                clock.gate(f"load {name}", partial(gates.raw_gate, con, cfg, RUN, name))
            clock.step(f"stage {name}", partial(stage_source, con, name, src))
            if gates:
                clock.gate(f"stage {name}", partial(gates.staged_gate, con, cfg, RUN, name))
        clock.step("staged + interactions", partial(build_unions, con, cfg))


def identity_pass(cfg: Config, base: Path, clock: Clock, gates: ModuleType | None) -> None:
    """Ids, golden profiles and traits over a copy of the clustered people; with `gates`, the identity gates."""
    shutil.copy(base, cfg.warehouse_path)
    with open_warehouse(cfg.warehouse_path) as con:
        if gates:
            clock.gate("clusters (given)", partial(gates.clusters_gate, con, cfg, RUN))
        clock.step("customer ids", partial(assign_customer_ids, con, RUN))
        if gates:
            clock.gate("customer ids", partial(gates.customers_gate, con, cfg, RUN))
        clock.step("golden profiles", partial(build_golden, con, IdentityConfig()))
        if gates:
            clock.gate("golden profiles", partial(gates.golden_gate, con, cfg, RUN))
        clock.step("traits", partial(build_traits, con))
    if gates:  # as the last check of `cdp run` does
        clock.gate("data docs", partial(gates.build_run_docs, cfg, RUN))


def report(plain: Clock, gated: Clock) -> None:
    print("| step | without suites (s) | with suites: step (s) | with suites: gate (s) |")
    print("| --- | ---: | ---: | ---: |")
    for label, seconds in plain.steps.items():
        gate = f"{gated.gates[label]:.1f}" if label in gated.gates else ""
        print(f"| {label} | {seconds:.1f} | {gated.steps[label]:.1f} | {gate} |")
    for label in gated.gates.keys() - plain.steps.keys():
        print(f"| {label} | | | {gated.gates[label]:.1f} |")
    before = sum(plain.steps.values())
    after = sum(gated.steps.values()) + sum(gated.gates.values())
    gates_only = sum(gated.gates.values())
    print(f"| **total** | **{before:.1f}** | {sum(gated.steps.values()):.1f} | {gates_only:.1f} |")
    print(f"\nwithout suites {before:.1f} s, with suites {after:.1f} s: +{after / before - 1:.1%} "
          f"(gates alone {gates_only:.1f} s = {gates_only / before:.1%} of the pipeline)")
    for line in gated.findings:
        print(f"finding: {line}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--silos", type=int, default=333_000, help="records per silo (three silos)")
    ap.add_argument("--households", type=int, default=210_000, help="synthetic households (~4.8 records each)")
    ap.add_argument("--work", help="folder to work in (default: a temp dir, removed afterwards)")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-bench-quality-"))
    try:
        run(work, args.silos, args.households)
    finally:
        if not args.work:
            shutil.rmtree(work)


def run(work: Path, records: int, households: int) -> None:
    start = time.perf_counter()
    cfg = load_config(write_silos(work / "silos", records))
    people = cfg.model_copy(update={"warehouse": str(cfg.state_dir / "people.duckdb")})  # one GX project
    base = work / "people-base.duckdb"
    with open_warehouse(base) as con:
        stage_people(con, households)
        staged = con.execute("select count(*) from staged").fetchall()[0][0]
    print(f"generated {3 * records:,} silo records and {staged:,} clustered records "
          f"in {time.perf_counter() - start:.0f} s")
    plain, gated = Clock(), Clock()
    ingestion_pass(cfg, plain, None)
    identity_pass(people, base, plain, None)
    start = time.perf_counter()
    gates = importlib.import_module("quality.gates")  # Great Expectations: `cdp run` pays this in its first check
    gated.gates["import great_expectations"] = time.perf_counter() - start
    ingestion_pass(cfg, gated, gates)
    identity_pass(people, base, gated, gates)
    report(plain, gated)


if __name__ == "__main__":
    main()
