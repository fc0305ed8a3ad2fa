"""People in households: who they are and where they live.

Households of one to five (US-like size shares) are single people, couples with or without grown
children and sometimes an elderly parent, lone parents, or unrelated house sharers. A family
shares its surname, except wives who kept theirs (or double-barrelled it) and sharers; a married
woman who took the surname keeps her maiden name for older records. First names are drawn by sex
with census frequencies and differ inside a family, except a father and son JR/SR who share first
and middle names; twins share a birth date. A fifth of households moved: their old address is
what stale records still show. Everything is drawn column-wise with numpy; `REF` is the demo's
"today", so a seed gives the same people whatever the date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cdp.demo.mess import NULL
from cdp.demo.vocab import Vocab

REF = np.datetime64("2025-06-30", "D")
YEAR = 365.25
HEAD, PARTNER, CHILD, ELDER, SHARER = range(5)
SINGLE, COUPLE, LONE_PARENT, SHARERS = range(4)
SIZES, SIZE_P = np.arange(1, 6), [0.28, 0.34, 0.16, 0.13, 0.09]
KIND_P = [0.78, 0.12, 0.10]  # of households of two or more: couple, lone parent, sharers
STREET_TYPES = np.array(["St", "Ave", "Rd", "Dr", "Ln", "Ct", "Blvd", "Way", "Pl", "Cir", "Ter"], dtype=object)
STREET_TYPE_P = [0.29, 0.17, 0.12, 0.14, 0.08, 0.06, 0.03, 0.04, 0.03, 0.02, 0.02]
DIRECTIONS = np.array(["N", "S", "E", "W"], dtype=object)
MOVED_SHARE = 0.22
TWINS_SHARE = 0.04  # of families with two or more children
JUNIOR_SHARE = 0.06  # of families with a father and a son
NICKNAME_SHARE = 0.4  # of people whose given name has nicknames: they go by one


@dataclass(frozen=True)
class Population:
    households: pd.DataFrame
    """Per household: size, kind, start (first member's person id), address parts, moved_at, old_* parts."""
    people: pd.DataFrame
    """Per person (index = person id): household, role, sex, first, middle, last, maiden, suffix, goes_by, dob, ssn."""


def population(rng: np.random.Generator, n: int, words: Vocab) -> Population:
    hh = _households(rng, n)
    _addresses(rng, hh, words)
    people = _people(rng, hh, words)
    return Population(hh, people)


def _households(rng: np.random.Generator, n: int) -> pd.DataFrame:
    size = rng.choice(SIZES, size=max(n, 1), p=SIZE_P)
    cum = np.cumsum(size)
    count = int(np.searchsorted(cum, n)) + 1
    size = size[:count].copy()
    size[-1] -= cum[count - 1] - n
    kind = np.where(size == 1, SINGLE, rng.choice([COUPLE, LONE_PARENT, SHARERS], size=count, p=KIND_P))
    return pd.DataFrame({"size": size, "kind": kind, "start": np.cumsum(size) - size})


def _street(rng: np.random.Generator, n: int, words: Vocab, prefix: str = "") -> dict[str, np.ndarray]:
    """House number, direction, street name and type, unit (blank for a house), place index."""
    number = rng.integers(1, 40, n).astype(str).astype(object)
    letter = np.where(rng.random(n) < 0.3, rng.choice(np.array(list("ABCD"), dtype=object), n), "")
    unit = np.where(rng.random(n) < 0.22, number + letter, "")
    return {
        f"{prefix}number": np.round(10 ** rng.uniform(1.0, 4.0, n)).astype(int),
        f"{prefix}direction": np.where(rng.random(n) < 0.08, DIRECTIONS[rng.integers(0, 4, n)], ""),
        f"{prefix}street": words.streets.draw(rng, n),
        f"{prefix}street_type": rng.choice(len(STREET_TYPES), size=n, p=STREET_TYPE_P),
        f"{prefix}unit": unit,
        f"{prefix}place": words.place_pool.draw(rng, n).astype(int),
    }


def _addresses(rng: np.random.Generator, hh: pd.DataFrame, words: Vocab) -> None:
    """Where each household lives, and where a moved one lived before (half of them in the same town)."""
    n = len(hh)
    for column, values in _street(rng, n, words).items():
        hh[column] = values
    for column, values in _street(rng, n, words, "old_").items():
        hh[column] = values
    same_town = rng.random(n) < 0.5
    hh.loc[same_town, "old_place"] = hh.loc[same_town, "place"]
    moved = rng.random(n) < MOVED_SHARE
    hh["moved_at"] = np.where(moved, REF - (rng.uniform(0.2, 6.0, n) * YEAR).astype("timedelta64[D]"),
                              np.datetime64("NaT"))


def _people(rng: np.random.Generator, hh: pd.DataFrame, words: Vocab) -> pd.DataFrame:
    size, kind, start = (hh[c].to_numpy() for c in ("size", "kind", "start"))
    home = np.repeat(np.arange(len(hh)), size)
    n = len(home)
    pos = np.arange(n) - start[home]
    role = _roles(rng, pos, kind[home], (start + size - 1)[home] == np.arange(n))
    sex = _sexes(rng, role, start[home])
    p = pd.DataFrame({"household": home, "role": role, "sex": sex})
    p["dob"] = _birth_dates(rng, p, hh)
    _surnames(rng, p, words)
    _given_names(rng, p, words)
    _juniors(rng, p)
    p["goes_by"] = np.where(rng.random(n) < NICKNAME_SHARE, words.nicknames.draw(rng, p["first"].to_numpy()), NULL)
    p["ssn"] = _ssns(rng, n)
    return p


def _roles(rng: np.random.Generator, pos: np.ndarray, kind: np.ndarray, last: np.ndarray) -> np.ndarray:
    role = np.select([pos == 0, kind == SHARERS, kind == LONE_PARENT, pos == 1], [HEAD, SHARER, CHILD, PARTNER], CHILD)
    elder = (kind == COUPLE) & (pos >= 2) & last & (rng.random(len(pos)) < 0.12)
    return np.where(elder, ELDER, role)


def _sexes(rng: np.random.Generator, role: np.ndarray, head: np.ndarray) -> np.ndarray:
    male = rng.random(len(role)) < 0.5
    opposite = ~male[head] ^ (rng.random(len(role)) < 0.04)  # a few same-sex couples
    male = np.where(role == PARTNER, opposite, male)
    male = np.where(role == ELDER, rng.random(len(role)) < 0.35, male)  # widowed mothers outnumber fathers
    return np.where(male, "M", "F")


def _birth_dates(rng: np.random.Generator, p: pd.DataFrame, hh: pd.DataFrame) -> np.ndarray:
    """Ages that fit the roles (every customer is an adult); twins share their birth date."""
    n, role = len(p), p["role"].to_numpy()
    home = p["household"].to_numpy()
    kids = p[role == CHILD].groupby("household").size().reindex(range(len(hh)), fill_value=0).to_numpy()
    head_age = np.select(
        [kids > 0, hh["kind"].to_numpy() == COUPLE],
        [40 + rng.beta(1.5, 2.0, len(hh)) * 45, 22 + rng.beta(2.0, 2.0, len(hh)) * 60],
        19 + rng.beta(1.6, 2.2, len(hh)) * 65,
    )[home]
    age = np.select(
        [role == HEAD, role == PARTNER, role == CHILD, role == ELDER],
        [head_age, np.maximum(19, head_age + rng.normal(0, 3.5, n)), head_age - rng.uniform(20, 38, n),
         np.minimum(98, head_age + rng.uniform(22, 35, n))],
        np.maximum(19, head_age + rng.uniform(-4, 4, n)),
    )
    age = np.where(age < 18, 18 + rng.random(n) * 1.5, age)
    days = (age * YEAR).astype(int)
    # twins: a family's second child born the same day as its first
    child_rank = p[role == CHILD].groupby("household").cumcount().reindex(p.index).to_numpy()
    twins = (kids[home] >= 2) & (child_rank == 1) & (rng.random(len(hh)) < TWINS_SHARE)[home]
    days[twins] = days[np.flatnonzero(twins) - 1]
    return REF - days.astype("timedelta64[D]")


def _surnames(rng: np.random.Generator, p: pd.DataFrame, words: Vocab) -> None:
    """Family surname; wives took it (maiden name kept), kept their own, or joined both."""
    n, role, home = len(p), p["role"].to_numpy(), p["household"].to_numpy()
    family = words.surnames.draw(rng, int(home.max()) + 1 if n else 0)[home]
    own = words.surnames.draw(rng, n)
    female = p["sex"].to_numpy() == "F"
    married_in = ((role == PARTNER) | ((role == HEAD) & (np.roll(role, -1) == PARTNER))) & female
    head_female_couple = (role == HEAD) & female & (np.roll(p["sex"].to_numpy(), -1) == "F")
    married_in &= ~head_female_couple  # two wives: the head keeps the family name
    choice = rng.random(n)
    took, joined = married_in & (choice < 0.75), married_in & (choice >= 0.93)
    kept = married_in & ~took & ~joined
    elder_own = (role == ELDER) & (rng.random(n) < 0.4)
    last = np.where(kept | elder_own | (role == SHARER), own, family)
    last = np.where(joined, own + "-" + family, last)
    p["last"] = last
    p["maiden"] = np.where(took | joined | ((role == ELDER) & female & ~elder_own), own, NULL)
    p.loc[p["maiden"] == p["last"], "maiden"] = None


def _given_names(rng: np.random.Generator, p: pd.DataFrame, words: Vocab) -> None:
    """First and middle names by sex; no two members of a family share a first name."""
    n, male = len(p), p["sex"].to_numpy() == "M"

    def draw(count: int, is_male: np.ndarray) -> np.ndarray:
        return np.where(is_male, words.male.draw(rng, count), words.female.draw(rng, count))

    first = draw(n, male)
    family = p["role"].to_numpy() != SHARER
    for _ in range(6):
        clash = pd.DataFrame({"h": p["household"], "f": first}).duplicated().to_numpy() & family
        if not clash.any():
            break
        first[clash] = draw(int(clash.sum()), male[clash])
    middle = draw(n, male)
    p["first"] = first
    p["middle"] = np.where((rng.random(n) < 0.7) & (middle != first), middle, NULL)
    p["suffix"] = None


def _juniors(rng: np.random.Generator, p: pd.DataFrame) -> None:
    """In a few families with a father and a son, the son carries the father's names: JR and SR."""
    role, male = p["role"].to_numpy(), p["sex"].to_numpy() == "M"
    fathers = p[male & ((role == HEAD) | (role == PARTNER))].groupby("household").head(1)
    sons = p[male & (role == CHILD)].groupby("household").head(1)
    pairs = pd.DataFrame({"father": fathers.index}, index=fathers["household"]).join(
        pd.DataFrame({"son": sons.index}, index=sons["household"]), how="inner")
    pairs = pairs[rng.random(len(pairs)) < JUNIOR_SHARE]
    father, son = pairs["father"].to_numpy(), pairs["son"].to_numpy()
    p.loc[son, "first"] = p.loc[father, "first"].to_numpy()
    p.loc[son, "middle"] = p.loc[father, "middle"].to_numpy()
    p.loc[son, "suffix"] = "JR"
    p.loc[father, "suffix"] = "SR"


def _ssns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct valid-looking SSNs: area 001-899 but 666, group 01-99, serial 0001-9999."""
    draws = max(16, int(n * 1.05) + 16)
    area = rng.integers(1, 899, draws)
    area[area == 666] = 667
    number = area * 1_000_000 + rng.integers(1, 100, draws) * 10_000 + rng.integers(1, 10_000, draws)
    _, first = np.unique(number, return_index=True)
    return np.char.zfill(number[np.sort(first)][:n].astype(str), 9).astype(object)
