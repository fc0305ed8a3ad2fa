"""Identity at scale on a synthetic staged table of households, ours beside the plain Splink model.

    python -m bench.households [--households 170000] [--work DIR]      # ~800k records, ~10 minutes

Skips ingestion (the records are generated already standardised) so it measures matching and
clustering alone, and needs nothing but numpy. People live in households of one to four sharing a
last name, a street, a postcode, a landline and, for a quarter of them, a family email; each person
has a mobile and a personal email or the family one, and appears in one to three sources with
typos, missing birth dates, phones and emails. Names are syllable strings with Zipf frequencies.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from bench.accuracy import HEADER, Score, pairwise, score_baseline
from cdp.config import IdentityConfig
from identity.cluster import cluster_records
from identity.matching import match
from identity.model import ModelStore

SYLLABLES = np.array(["AN", "BE", "CA", "DO", "EL", "FI", "GA", "HO", "IN", "JO", "KA", "LI", "MA", "NO", "OR",
                      "PA", "RI", "SA", "TO", "VE", "WI", "YA", "ZE", "LU", "MI"])


def _names(rng: np.random.Generator, count: int) -> np.ndarray:
    parts = rng.integers(0, len(SYLLABLES), (count, 3))
    return np.unique(np.array(["".join(SYLLABLES[p]) for p in parts]))


def _zipf(rng: np.random.Generator, pool: np.ndarray, n: int, s: float) -> np.ndarray:
    weights = 1 / np.arange(1, len(pool) + 1) ** s
    return pool[rng.choice(len(pool), n, p=weights / weights.sum())]


def _typos(rng: np.random.Generator, words: np.ndarray, share: float) -> np.ndarray:
    out = words.astype(object)
    for i in np.flatnonzero(rng.random(len(words)) < share):
        j = int(rng.integers(0, len(out[i]) - 1))
        out[i] = out[i][:j] + out[i][j + 1] + out[i][j] + out[i][j + 2:]
    return out.astype(str)


def _blank(rng: np.random.Generator, values: np.ndarray, share: float, kind: pa.DataType) -> pa.Array:
    return pa.array(values.tolist(), kind, mask=rng.random(len(values)) < share)


def population(households: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """(staged records, truth(record_id, person_id)) for `households` households."""
    rng = np.random.default_rng(seed)
    size = rng.choice([1, 1, 2, 2, 3, 4], households)
    home = np.repeat(np.arange(households), size)
    people = len(home)
    last = _zipf(rng, _names(rng, 40_000), households, 0.8)[home]
    first = _zipf(rng, _names(rng, 3_000), people, 1.0)
    street = np.char.add(rng.integers(1, 999, households).astype(str), " " + _zipf(rng, _names(rng, 5_000),
                                                                                     households, 0.5))[home]
    postcode = np.char.zfill(rng.integers(0, 30_000, households).astype(str), 5)[home]
    landline = np.char.add("+1555", np.char.zfill(home.astype(str), 7))
    mobile = np.char.add("+1666", np.char.zfill(np.arange(people).astype(str), 7))
    family = np.char.add(np.char.add(np.char.lower(last), home.astype(str)), "@home.example")
    own = np.char.add(np.char.add(np.char.lower(first), np.arange(people).astype(str)), "@mail.example")
    email = np.where(rng.random(people) < 0.25, family, own)
    dob = np.datetime64("1940-01-01") + rng.integers(0, 25_000, people).astype("timedelta64[D]")
    tax = np.char.zfill(rng.integers(0, 10**9, people).astype(str), 9)
    person = np.repeat(np.arange(people), rng.choice([1, 2, 2, 3, 3], people))
    n = len(person)
    source = np.array(["crm", "shop", "support"])[rng.integers(0, 3, n)]
    record_id = np.char.add(np.char.add(source, ":"), np.arange(n).astype(str))
    records = pa.table({
        "record_id": record_id, "source": source, "first_name": _typos(rng, first[person], 0.05),
        "last_name": _typos(rng, last[person], 0.03), "street": street[person], "postcode": postcode[person],
        "phone": _blank(rng, np.where(rng.random(n) < 0.5, mobile[person], landline[person]), 0.2, pa.string()),
        "email": _blank(rng, email[person], 0.3, pa.string()), "tax_id": _blank(rng, tax[person], 0.7, pa.string()),
        "birth_date": _blank(rng, dob[person], 0.3, pa.date32()),
    })
    return records, pa.table({"record_id": record_id, "person_id": person.astype(str)})


def write_staged(con: duckdb.DuckDBPyConnection, records: pa.Table, truth: pa.Table) -> None:
    con.register("generated", records)
    con.execute("""create or replace table staged as select *, first_name as first_name_root,
        null::varchar as middle_name, null::varchar as name_suffix, 'SPRINGFIELD' as city from generated""")
    con.register("generated_truth", truth)
    con.execute("create or replace table truth as select * from generated_truth")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=170_000, help="households to generate (~4.8 records each)")
    ap.add_argument("--work", help="folder for the warehouse and model (default: a temp dir)")
    args = ap.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="cdp-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    name = f"synthetic {args.households:,} households"
    with duckdb.connect(str(work / "warehouse.duckdb")) as con:
        write_staged(con, *population(args.households))
        records = con.execute("select count(*) from staged").fetchall()[0][0]
        print(HEADER, flush=True)
        start = time.perf_counter()
        match(con, IdentityConfig(), ModelStore(work / "models"), retrain=True)
        cluster_records(con, IdentityConfig().threshold, IdentityConfig().max_cluster_size)
        print(Score(name, "cdp", records, *pairwise(con, "clusters"), time.perf_counter() - start).row(), flush=True)
        print(score_baseline(con, name, records, IdentityConfig().threshold).row(), flush=True)


if __name__ == "__main__":
    main()
