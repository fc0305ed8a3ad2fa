"""The lists the demo draws people from, with their real-world frequencies.

Data files beside this module:
- `first_names.csv` (name, sex, percent) and `last_names.csv` (name, percent): the US Census
  Bureau's 1990 name frequency lists (public domain): the 700 commonest male and 1,000 commonest
  female first names, and the 10,000 commonest surnames (O'/Mc/De la spellings restored). Drawn
  with these frequencies, a few thousand people already hold many unrelated James Smiths.
- `places.csv` (zip, city, state, area_codes, weight): about 5,000 standard US ZIP codes with their
  city, state and telephone area codes; every ZIP of 50 large cities (weight 2) and every ninth
  of the rest (weight 1), so half the customers live in big cities.
- `streets.csv` (name, weight): common US street names, the weight falling with their rank.
Nicknames come from ingestion's maintained list (`ingestion/standardise/nicknames.csv`), so the
demo uses the very nicknames ingestion folds, weighted by how common each is as a given name.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

from ingestion.standardise.names import nicknames


@dataclass(frozen=True)
class Pool:
    """Values with the probability of drawing each."""

    values: np.ndarray
    p: np.ndarray

    @classmethod
    def of(cls, values: pd.Series, weights: pd.Series) -> Pool:
        w = weights.to_numpy(float)
        return cls(values.to_numpy(object), w / w.sum())

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values[self.index(rng, n)]

    def index(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.values), size=n, p=self.p)


@dataclass(frozen=True)
class Nicknames:
    """Each formal first name's nicknames as one flat table, for drawing one per person at once.

    `keys` holds, per nickname, its formal name's code plus the cumulative probability of the
    nicknames up to it; a person with formal-name code c and a uniform u takes the nickname at
    `searchsorted(keys, c + u)`.
    """

    formal: pd.Index
    keys: np.ndarray
    values: np.ndarray

    def draw(self, rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
        """A nickname for each of `names` (title case), or None where the name has none."""
        code = self.formal.get_indexer(pd.Index(names).str.upper())
        out = np.full(len(names), None, dtype=object)
        has = code >= 0
        pick = np.searchsorted(self.keys, code[has] + rng.random(int(has.sum())) * 0.999999, side="right")
        out[has] = self.values[pick]
        return out


@dataclass(frozen=True)
class Vocab:
    male: Pool
    female: Pool
    surnames: Pool
    streets: Pool
    places: pd.DataFrame
    """zip, city, state, area (the first area code), weight."""
    place_pool: Pool
    nicknames: Nicknames


def _read(name: str, **kwargs: object) -> pd.DataFrame:
    with resources.files(__package__).joinpath(name).open() as f:
        return pd.read_csv(f, keep_default_na=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def _nicknames(first: pd.DataFrame) -> Nicknames:
    common = first.groupby(first["name"].str.upper())["percent"].sum()
    pairs = pd.DataFrame(list(nicknames().items()), columns=["nickname", "formal"])
    pairs["w"] = pairs["nickname"].map(common).fillna(0) + 0.02  # rare ones still occur
    pairs = pairs.sort_values(["formal", "nickname"]).reset_index(drop=True)
    formal = pd.Index(pairs["formal"].unique())
    code = formal.get_indexer(pairs["formal"])
    cum = pairs.groupby("formal", sort=False)["w"].cumsum() / pairs.groupby("formal", sort=False)["w"].transform("sum")
    return Nicknames(formal, code + cum.to_numpy(), pairs["nickname"].str.title().to_numpy(object))


@cache
def vocab() -> Vocab:
    """Every list, read once per process."""
    first = _read("first_names.csv")
    last = _read("last_names.csv")
    streets = _read("streets.csv")
    places = _read("places.csv", dtype={"zip": str, "area_codes": str})
    places["area"] = places["area_codes"].str.split().str[0]
    return Vocab(
        male=Pool.of(first.loc[first["sex"] == "M", "name"], first.loc[first["sex"] == "M", "percent"]),
        female=Pool.of(first.loc[first["sex"] == "F", "name"], first.loc[first["sex"] == "F", "percent"]),
        surnames=Pool.of(last["name"], last["percent"]),
        streets=Pool.of(streets["name"], streets["weight"]),
        places=places[["zip", "city", "state", "area", "weight"]],
        place_pool=Pool.of(places.index.to_series(), places["weight"]),
        nicknames=_nicknames(first),
    )
