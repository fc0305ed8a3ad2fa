"""The demo as a user runs it, from the CLI: written, run, and its exports read back."""

from __future__ import annotations

import csv
from pathlib import Path

from cdp.cli import main


def run_demo(out: Path, people: int, seed: int) -> Path:
    """`cdp demo` into `out`, then `cdp run` on it; returns `out`."""
    assert main(["demo", "--out", str(out), "--people", str(people), "--seed", str(seed)]) == 0
    assert main(["run", "--config", str(out / "cdp.yaml")]) == 0
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def crosswalk(folder: Path) -> list[dict[str, str]]:
    """`cdp export crosswalk` of the project in `folder`, as rows."""
    out = folder / "crosswalk.csv"
    assert main(["export", "crosswalk", "--config", str(folder / "cdp.yaml"), "--out", str(out)]) == 0
    return read_csv(out)
