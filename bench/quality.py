"""Benchmark: what the quality suites add to the run time of the pipeline they gate, at ~1M records.

    python -m bench.quality                                       # ~1M records per side; ~5 minutes
    python -m bench.quality --silos 33000 --households 21000      # ~100k records per side

Two passes in one process, each on fresh warehouses: the pipeline without the suites, then with
each stage's gate right after the stage, as the blocking checks run in `cdp run` (the gates are
the functions the checks call; Great Expectations' import, paid once per run, counts as a gate).

Ingestion side: bench/silos.py's three messy silos (--silos records each): load, standardise,
unions; gates raw_<source> and staged_<source>. Identity side: bench/profiles.py's synthetic
people (--households), clustered as the truth says: customer ids, golden profiles, traits; gates
clusters, customers, golden. Matching is not run (bench/households.py times it: minutes at this size),
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
    """Wall and CPU seconds (all threads: DuckDB uses both cores) of pipeline steps and gates, for one pass."""

    def __init__(self) -> None:
        self.steps: dict[str, tuple[float, float]] = {}
        self.gates: dict[str, tuple[float, float]] = {}
        self.findings: list[str] = []

    def step(self, label: str, fn: Callable[[], Any]) -> Any:
        out, self.steps[label] = _timed(fn)
        return out

    def gate(self, label: str, fn: Callable[[], Outcome | None]) -> None:
        outcome, self.gates[label] = _timed(fn)
        self.findings += [f"{label}: {f.line()}" for f in outcome.findings] if outcome else []


def _timed(fn: Callable[[], Any]) -> tuple[Any, tuple[float, float]]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


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
    """Per step: wall / CPU seconds without the suites, with them, and of the gate that follows the step."""
    def cell(t: tuple[float, float] | None) -> str:
        return f"{t[0]:.1f} / {t[1]:.1f}" if t else ""

    print("| step | without suites | with suites | its gate |\n| --- | ---: | ---: | ---: |")
    for label, seconds in plain.steps.items():
        print(f"| {label} | {cell(seconds)} | {cell(gated.steps[label])} | {cell(gated.gates.get(label))} |")
    for label in gated.gates.keys() - plain.steps.keys():
        print(f"| {label} | | | {cell(gated.gates[label])} |")
    before, steps, gates = (_total(clock) for clock in (plain.steps, gated.steps, gated.gates))
    print(f"| **total** | **{cell(before)}** | {cell(steps)} | {cell(gates)} |\n")
    for i, what in enumerate(("wall", "CPU")):
        after = steps[i] + gates[i]
        print(f"{what}: without suites {before[i]:.1f} s, with suites {after:.1f} s ({after / before[i] - 1:+.1%}); "
              f"the gates alone {gates[i]:.1f} s = {gates[i] / before[i]:.1%} of the pipeline without them")
    for line in gated.findings:
        print(f"finding: {line}")


def _total(times: dict[str, tuple[float, float]]) -> tuple[float, float]:
    return sum(wall for wall, _ in times.values()), sum(cpu for _, cpu in times.values())


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
    # Great Expectations' import: `cdp run` pays it once, in its first check
    gates, gated.gates["import great_expectations"] = _timed(partial(importlib.import_module, "quality.gates"))
    ingestion_pass(cfg, gated, gates)
    identity_pass(people, base, gated, gates)
    report(plain, gated)


if __name__ == "__main__":
    main()
