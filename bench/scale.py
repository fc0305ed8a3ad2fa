"""End to end at 100k, 1M and 10M records: `cdp demo`, then a first `cdp run`, per step, beside plain Splink.

    python -m bench.scale --sizes 100k,1m --work /work/scale      # keeps (and reuses) the demos in /work/scale/<size>
    python -m bench.scale --sizes 10m --work /work/scale --demo-only    # only write the demo (once)

A size is a number of records (`100k`, `1m`, `10m`); the demo gets 0.441 people per record (441,000
people publish ~1M records). A folder that already holds a cdp.yaml is reused, its state (`.cdp`)
removed first so every run is a first, full one; the demo's own time and peak are kept in
`bench-demo.json` beside it when this bench wrote it. Results are kept in `<work>/scale.json`, by size,
and the tables show every size kept there (so 10m can run on its own later and be compared with 1m).

`cdp demo`, `cdp run` and plain Splink each run as a process of their own. A thread samples the
process tree (the process and its children, from /proc) every 0.2 s: CPU seconds and resident
memory; the run's steps are Dagster's, with their start and end from the project's instance, and
each step gets the samples inside its window (DuckDB runs in the `cdp run` process). The whole
process's CPU and peak RSS come from the kernel (wait4). Then: the published store is read back
(its customers, one profile), and the customers are scored against the demo's truth.csv, with
plain Splink's clusters of the same staged records (bench/baseline.py) in a process of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dagster as dg
import duckdb
import yaml

from bench.accuracy import HEADER, Score, load_truth, pairwise, score_baseline
from cdp.config import Config, load_config
from cdp.runner import dagster_home
from cdp.schema import RECORD_CUSTOMER

CDP = str(Path(sys.executable).parent / "cdp")
"""The console script of the running environment."""
PEOPLE_PER_RECORD = 0.441
"""441,000 demo people publish about a million records."""
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
GB = 2**30
TARGETS = {"1m": (120.0, 4.0), "10m": (1800.0, 16.0)}
"""Per size: (wall seconds, peak GB) the issue asks for."""


def records_of(size: str) -> int:
    """`100k` -> 100,000; `1m` -> 1,000,000; a plain number as it is."""
    scale = {"k": 1_000, "m": 1_000_000}.get(size[-1].lower(), 1)
    try:
        return int(float(size.rstrip("kKmM")) * scale)
    except ValueError:
        raise SystemExit(f"bench.scale: size {size!r} is not a number of records like 100k, 1m or 10m") from None


@dataclass
class Sample:
    at: float
    """Seconds since the epoch (Dagster's step times are too)."""
    cpu: float
    """CPU seconds of the tree so far (children that ended included once their parent waited for them)."""
    rss: int
    """Bytes resident in the tree now."""


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from each thread's /proc children list: a scan of every /proc/*/stat took 10 ms
    of CPU per sample, a twentieth of a core beside the run it measures."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:  # ended while we looked
            continue
        for tid in threads:
            try:
                todo.extend(int(child) for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
            except OSError:
                continue
    return out


def _usage(pid: int) -> tuple[float, int]:
    """(utime + stime + waited children's, in seconds; resident bytes) of one process; zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0.0, 0
    return sum(int(f) for f in fields[11:15]) / TICK, int(statm[1]) * PAGE


class Sampler(threading.Thread):
    """Samples a process tree's CPU and resident memory every `every` seconds until the root ends."""

    def __init__(self, root: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.every, self.samples = root, every, list[Sample]()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            usage = [_usage(pid) for pid in _tree(self.root)]
            self.samples.append(Sample(time.time(), sum(u[0] for u in usage), sum(u[1] for u in usage)))
            self.stopped.wait(self.every)

    def window(self, start: float, end: float) -> tuple[float, float]:
        """(CPU seconds, peak resident GB) between two epoch times: the samples inside, and the last one before."""
        before = [s for s in self.samples if s.at <= start] or self.samples[:1]
        inside = [s for s in self.samples if start < s.at <= end] or before[-1:]
        return max(inside[-1].cpu - before[-1].cpu, 0.0), max(s.rss for s in before[-1:] + inside) / GB


@dataclass
class Measured:
    """One process, timed from outside."""

    wall: float
    cpu: float
    """User + system seconds of the process and the children it waited for (the kernel's count)."""
    peak: float
    """Peak resident GB: the kernel's for the process itself, the sampler's for the tree if that is larger."""
    out: str = ""


def measure(args: list[str]) -> tuple[Measured, Sampler]:
    """Run `args` to completion with a sampler on its process tree; raise with its output if it fails."""
    start = time.perf_counter()
    log = Path(os.environ.get("TMPDIR", "/tmp"), f"bench-scale-{os.getpid()}.log")
    with log.open("w+") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, text=True)
        sampler = Sampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.stopped.set()
        sampler.join()
        out.seek(0)
        text = out.read()
    log.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{text[-4000:]}")
    tree_peak = max((s.rss for s in sampler.samples), default=0) / GB
    peak = max(usage.ru_maxrss / 2**20, tree_peak)
    return Measured(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, peak, text), sampler


@dataclass
class Step:
    step: str
    wall: float
    cpu: float
    peak: float


def steps(cfg: Config, sampler: Sampler) -> list[Step]:
    """Each step of the project's latest Dagster run, in start order, with the samples of its window."""
    with dg.DagsterInstance.from_config(str(dagster_home(cfg))) as instance:
        (latest,) = instance.get_runs(limit=1)
        stats = instance.get_run_step_stats(latest.run_id)
    out = []
    for s in sorted(stats, key=lambda s: s.start_time or 0):
        start, end = s.start_time or 0.0, s.end_time or s.start_time or 0.0
        out.append(Step(s.step_key, end - start, *sampler.window(start, end)))
    return out


def served(cfg: Config) -> tuple[int, int, float]:
    """(customers, records) of the published version, as the API reads it, and the seconds one profile took."""
    import sqlalchemy as sa

    from api.reader import ServingReader
    from serving.tables import profiles

    reader = ServingReader(cfg.serving, pool_size=1)
    try:
        version = reader.version()
        if version is None:
            raise RuntimeError(f"nothing published in {cfg.serving}")
        with reader.engine.connect() as con:
            first = con.execute(sa.select(profiles.c.customer_id).limit(1)).scalar_one()
        start = time.perf_counter()
        if reader.profile(first, None) is None:
            raise RuntimeError(f"customer {first} is listed in {cfg.serving} but its profile does not read")
        return version.customers, version.records, time.perf_counter() - start
    finally:
        reader.close()


def scored(cfg: Config) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the run's `staged`, its customers as `final(record_id, cluster_id)` and `truth`
    (the warehouse attached read-only: nothing is written into it)."""
    con = duckdb.connect()
    con.execute(f"attach '{cfg.warehouse_path}' as warehouse (read_only)")
    con.execute("create view staged as select * from warehouse.staged")
    con.execute(f"create view final as select record_id, customer_id as cluster_id from warehouse.{RECORD_CUSTOMER}")
    load_truth(con, cfg.root / "truth.csv")
    return con


@dataclass
class Result:
    size: str
    people: int
    records: int = 0
    demo: Measured | None = None
    run: Measured | None = None
    steps: list[Step] = field(default_factory=list)
    customers: int = 0
    profile_seconds: float = 0.0
    cdp: Score | None = None
    baseline: Score | None = None
    baseline_run: Measured | None = None
    memory_limit: str = ""
    """DuckDB's memory_limit for the run ('' for its default, 80% of RAM)."""


def demo(folder: Path, people: int) -> Measured | None:
    """Write the demo into `folder` unless it is there; its measure (from bench-demo.json when reused)."""
    kept = folder / "bench-demo.json"
    if (folder / "cdp.yaml").exists():
        return Measured(**json.loads(kept.read_text())) if kept.exists() else None
    measured, _ = measure([CDP, "demo", "--people", str(people), "--out", str(folder)])
    measured.out = ""
    kept.write_text(json.dumps(asdict(measured)))
    return measured


def config_for(folder: Path, memory_limit: str | None) -> Path:
    """The demo's cdp.yaml, or a copy beside it (the same warehouse) with DuckDB's memory limit set."""
    if not memory_limit:
        return folder / "cdp.yaml"
    raw = yaml.safe_load((folder / "cdp.yaml").read_text())
    raw["duckdb"] = {"memory_limit": memory_limit}
    (folder / "bench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, width=120))
    return folder / "bench.yaml"


def run_size(size: str, work: Path, baseline: bool, memory_limit: str | None) -> Result:
    people = round(records_of(size) * PEOPLE_PER_RECORD)
    folder = work / size
    result = Result(size, people, demo=demo(folder, people), memory_limit=memory_limit or "")
    config = config_for(folder, memory_limit)
    cfg = load_config(config)
    shutil.rmtree(cfg.state_dir, ignore_errors=True)  # a first run: no warehouse, store, model or Dagster runs
    result.run, sampler = measure([CDP, "run", "--config", str(config)])
    result.run.out = ""  # the run's own summary: not worth keeping in scale.json
    result.steps = steps(cfg, sampler)
    result.customers, _, result.profile_seconds = served(cfg)
    with scored(cfg) as con:
        result.records = con.execute("select count(*) from staged").fetchall()[0][0]
        result.cdp = Score(size, "cdp", result.records, *pairwise(con, "final"), result.run.wall)
    if baseline:
        result.baseline_run, _ = measure([sys.executable, "-m", "bench.scale", "--baseline-of", str(folder)])
        result.baseline = Score(**json.loads(result.baseline_run.out.strip().splitlines()[-1]))
    return result


def baseline_of(folder: Path) -> None:
    """Plain Splink on the staged records of the project in `folder`, scored; one JSON line (a Score)."""
    cfg = load_config(folder / "cdp.yaml")
    with scored(cfg) as con:
        records = con.execute("select count(*) from staged").fetchall()[0][0]
        score = score_baseline(con, folder.name, records, cfg.identity.threshold)
    print(json.dumps(asdict(score)), flush=True)


def _gb(m: Measured | None, what: str) -> str:
    return "-" if m is None else f"{getattr(m, what):.{2 if what == 'peak' else 1}f}"


def report(results: list[Result]) -> None:
    """The tables: end to end per size, per step per size, accuracy, and the issue's targets."""
    columns = ("size", "people", "records", "demo wall s", "demo CPU s", "demo peak GB", "run wall s", "run CPU s",
               "run peak GB", "us per record", "CPU us per record", "customers served", "profile read ms",
               "plain Splink wall s", "plain Splink peak GB")
    print("\n| " + " | ".join(columns) + " |\n| --- |" + " ---: |" * (len(columns) - 1))
    for r in results:
        assert r.run is not None
        cells = (r.size, f"{r.people:,}", f"{r.records:,}", _gb(r.demo, "wall"), _gb(r.demo, "cpu"),
                 _gb(r.demo, "peak"), f"{r.run.wall:.1f}", f"{r.run.cpu:.1f}", f"{r.run.peak:.2f}",
                 f"{r.run.wall / r.records * 1e6:.0f}", f"{r.run.cpu / r.records * 1e6:.0f}", f"{r.customers:,}",
                 f"{r.profile_seconds * 1000:.1f}", _gb(r.baseline_run, "wall"), _gb(r.baseline_run, "peak"))
        print("| " + " | ".join(cells) + " |")
    for r in results:
        limit = f", DuckDB memory_limit {r.memory_limit}" if r.memory_limit else ""
        print(f"\n{r.size}: steps of `cdp run`, in start order{limit}\n\n| step | wall s | CPU s | peak RSS GB |\n"
              "| --- | ---: | ---: | ---: |")
        for s in r.steps:
            print(f"| {s.step} | {s.wall:.1f} | {s.cpu:.1f} | {s.peak:.2f} |")
        if r.run:  # the process's start (imports, definitions, Dagster's instance) and its end
            outside = r.run.wall - sum(s.wall for s in r.steps), r.run.cpu - sum(s.cpu for s in r.steps)
            print(f"| outside the steps | {outside[0]:.1f} | {outside[1]:.1f} | |\n"
                  f"| **whole run** | **{r.run.wall:.1f}** | **{r.run.cpu:.1f}** | **{r.run.peak:.2f}** |")
    print("\n" + HEADER)
    for r in results:
        for score in (r.cdp, r.baseline):
            if score is not None:
                print(score.row())
    for r in results:
        if r.baseline_run is not None and r.run is not None:
            print(f"{r.size}: cdp run / plain Splink: {r.run.wall / r.baseline_run.wall:.1f}x the wall time, "
                  f"{r.run.peak / r.baseline_run.peak:.1f}x the peak memory")
    targets(results)


def targets(results: list[Result]) -> None:
    """Whether the issue's targets are met, for the sizes that ran."""
    by = {r.size.lower(): r for r in results}
    for size, (wall, peak) in TARGETS.items():
        if (r := by.get(size)) and r.run:
            ok = r.run.wall <= wall and r.run.peak <= peak
            print(f"{size}: {r.run.wall:.0f} s (target {wall:.0f}), {r.run.peak:.2f} GB (target {peak:.0f}): "
                  f"{'met' if ok else 'NOT met'}")
    one, ten = by.get("1m"), by.get("10m")
    if one and ten and one.run and ten.run and one.cdp and ten.cdp:
        ratio = (ten.run.wall / ten.records) / (one.run.wall / one.records)
        cpu = (ten.run.cpu / ten.records) / (one.run.cpu / one.records)
        print(f"time per record 10m / 1m: {ratio:.2f}x (target 1.5x): {'met' if ratio <= 1.5 else 'NOT met'}; "
              f"CPU per record {cpu:.2f}x")
        drop = one.cdp.f1 - ten.cdp.f1
        print(f"F1 10m {ten.cdp.f1:.4f} against 1m {one.cdp.f1:.4f} (at most 0.02 lower): "
              f"{'met' if drop <= 0.02 else 'NOT met'}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1m", help="comma list of record counts: 100k, 1m, 10m")
    ap.add_argument("--work", default="/tmp/cdp-scale", help="folder of the demos, one per size (kept and reused)")
    ap.add_argument("--no-baseline", action="store_true", help="skip plain Splink")
    ap.add_argument("--demo-only", action="store_true", help="only write the demos that are missing")
    ap.add_argument("--memory-limit", help="DuckDB's memory_limit for the runs, e.g. 12GB (default: DuckDB's)")
    ap.add_argument("--report", action="store_true", help="print the tables of the results kept in --work only")
    ap.add_argument("--baseline-of", help=argparse.SUPPRESS)  # the baseline's own process
    args = ap.parse_args(argv)
    if args.baseline_of:
        return baseline_of(Path(args.baseline_of))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if args.demo_only:
        for size in sizes:
            measured = demo(work / size, round(records_of(size) * PEOPLE_PER_RECORD))
            print(f"{size}: {work / size}: {measured or 'reused (no bench-demo.json)'}")
        return
    kept = work / "scale.json"
    results = earlier(kept)
    for size in sizes if not args.report else []:
        results[size] = run_size(size, work, not args.no_baseline, args.memory_limit)
        kept.write_text(json.dumps([asdict(r) for r in results.values()], indent=1))
    report(sorted(results.values(), key=lambda r: r.people))


def earlier(path: Path) -> dict[str, Result]:
    """The results kept in `path` by earlier invocations, by size (a size run again replaces its own)."""
    if not path.exists():
        return {}
    out = {}
    for r in json.loads(path.read_text()):
        measured = {k: Measured(**r[k]) if r[k] else None for k in ("demo", "run", "baseline_run")}
        scores = {k: Score(**r[k]) if r[k] else None for k in ("cdp", "baseline")}
        out[r["size"]] = Result(**{**r, **measured, **scores, "steps": [Step(**s) for s in r["steps"]]})
    return out


if __name__ == "__main__":
    main()
