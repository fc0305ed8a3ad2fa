"""How people can be reached: mobiles, household landlines, personal, old and family email addresses.

Phone numbers are ten NANP digits, mostly in the area code of where the person lives (a fifth
of mobiles kept the area code of a former home). Older households keep a landline shared by all
members; one that moved got a new number unless it stayed in town. Email addresses follow the
patterns people pick (john.smith, jsmith, johnsmith72, bobsmith ...) at realistic providers;
some people still use an old address from before a marriage or a provider change, and some
families share one address. Every number and every address belongs to one person or household:
a collision gets digits added, as a provider would insist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import pandas as pd

from cdp.demo.mess import NULL
from cdp.demo.population import COUPLE, LONE_PARENT, REF, YEAR, Population
from cdp.demo.vocab import Vocab

DOMAINS = {"gmail.com": 40, "yahoo.com": 14, "hotmail.com": 8, "outlook.com": 7, "icloud.com": 7, "aol.com": 5,
           "comcast.net": 5, "att.net": 3, "msn.com": 2, "verizon.net": 2, "live.com": 2, "me.com": 2,
           "sbcglobal.net": 2, "protonmail.com": 1}
OLD_DOMAINS = {"aol.com": 5, "hotmail.com": 5, "yahoo.com": 5, "msn.com": 2, "earthlink.net": 1, "juno.com": 1,
               "sbcglobal.net": 1, "gmail.com": 3}
FAMILY_DOMAINS = {"comcast.net": 3, "att.net": 2, "verizon.net": 2, "gmail.com": 4, "yahoo.com": 2, "aol.com": 2,
                  "cox.net": 1}
Parts: TypeAlias = pd.DataFrame
# local-part patterns and how often people pick them; columns of Parts: f, l, nick, mi, yy, nn
PATTERNS: list[tuple[int, Callable[[Parts], pd.Series]]] = [
    (22, lambda c: c.f + "." + c.l), (12, lambda c: c.f + c.l), (12, lambda c: c.f.str[0] + c.l),
    (4, lambda c: c.f + "_" + c.l), (10, lambda c: c.f + c.l + c.nn), (6, lambda c: c.f + "." + c.l + c.yy),
    (4, lambda c: c.l + c.f.str[0]), (6, lambda c: c.nick + c.l), (8, lambda c: c.f + c.nn),
    (5, lambda c: c.f + c.mi + c.l), (3, lambda c: c.l + "." + c.f), (4, lambda c: c.nick + "." + c.l + c.yy),
]
FAMILY_PATTERNS: list[tuple[int, Callable[[Parts], pd.Series]]] = [
    (3, lambda c: c.l + "family"), (2, lambda c: "the" + c.l + "s"), (3, lambda c: c.f + "and" + c.p),
    (2, lambda c: c.l + c.nn), (1, lambda c: c.f + c.p + c.l),
]
FAMILY_EMAIL_SHARE = 0.22  # of families of two or more


def contacts(rng: np.random.Generator, pop: Population, words: Vocab) -> None:
    """Add mobile, email, old_email to the people and landline, old_landline, family_email to households."""
    hh, people = pop.households, pop.people
    area = words.places["area"].to_numpy(object)
    age = (REF - people["dob"].to_numpy()).astype(int) / YEAR
    head_age = age[hh["start"].to_numpy()]
    landline = rng.random(len(hh)) < 0.2 + 0.5 * (head_age >= 55)
    moved = hh["moved_at"].notna().to_numpy()
    kept_number = (hh["old_place"] == hh["place"]).to_numpy() & (rng.random(len(hh)) < 0.5)
    mobile_home = np.where(rng.random(len(people)) < 0.8, hh["place"].to_numpy()[people["household"]],
                           words.place_pool.draw(rng, len(people)).astype(int))
    numbers = _numbers(rng, np.concatenate([area[hh["place"]], area[hh["old_place"]], area[mobile_home]]))
    new, old, mobile = np.split(numbers, [len(hh), 2 * len(hh)])
    hh["landline"] = np.where(landline, new, NULL)
    hh["old_landline"] = np.where(landline & moved, np.where(kept_number, new, old), NULL)
    people["mobile"] = np.where(rng.random(len(people)) < np.where(age >= 70, 0.7, 0.95), mobile, NULL)
    _emails(rng, pop, age)


def _numbers(rng: np.random.Generator, areas: np.ndarray) -> np.ndarray:
    """A distinct 10-digit number in each of `areas` (exchanges avoid N11 and 555)."""
    n = len(areas)
    exchange = rng.integers(200, 1000, n)
    exchange[(exchange % 100 == 11) | (exchange == 555)] += 1
    line = rng.integers(0, 10_000, n)
    prefix = areas.astype(np.int64) * 1000 + exchange  # as integers: checking a million for repeats is quick
    numbers = prefix * 10_000 + line
    while (clash := pd.Series(numbers).duplicated().to_numpy()).any():
        numbers[clash] = prefix[clash] * 10_000 + rng.integers(0, 10_000, int(clash.sum()))
    return numbers.astype(str).astype(object)


def ascii_lower(names: pd.Series) -> pd.Series:
    """Names as they go into an email address: lower case letters only (O'Brien -> obrien)."""
    codes, uniques = pd.factorize(names.fillna(""))
    cleaned = pd.Index(uniques).str.lower().str.replace("[^a-z]", "", regex=True)
    return pd.Series(np.asarray(cleaned, dtype=object)[codes], index=names.index)


def _emails(rng: np.random.Generator, pop: Population, age: np.ndarray) -> None:
    people, hh = pop.people, pop.households
    n = len(people)
    parts = pd.DataFrame({
        "f": ascii_lower(people["first"]), "l": ascii_lower(people["last"]),
        "nick": ascii_lower(people["goes_by"].fillna(people["first"])),
        "mi": ascii_lower(people["middle"]).str[:1],
        "yy": pd.Series(people["dob"].dt.year.to_numpy() % 100).astype(str).str.zfill(2),
        "nn": pd.Series(rng.integers(1, 1000, n)).astype(str),
    })
    current = _addresses(rng, parts, PATTERNS, DOMAINS)
    family = _family_addresses(rng, pop, parts)
    parts["l"] = ascii_lower(people["maiden"].fillna(people["last"]))  # an old address predates a marriage
    old = _addresses(rng, parts, PATTERNS, OLD_DOMAINS)
    every = _distinct(rng, np.concatenate([current, old, family]))
    current, old, family = np.split(every, [n, 2 * n])
    has = rng.random(n) < np.where(age >= 65, 0.65, 0.88)
    people["email"] = np.where(has, current, NULL)
    people["old_email"] = np.where(rng.random(n) < 0.15, old, NULL)
    hh["family_email"] = np.where(
        np.isin(hh["kind"], [COUPLE, LONE_PARENT]) & (rng.random(len(hh)) < FAMILY_EMAIL_SHARE), family, NULL)


def _addresses(
    rng: np.random.Generator, parts: pd.DataFrame, patterns: list[tuple[int, Callable[[Parts], pd.Series]]],
    domains: dict[str, int],
) -> np.ndarray:
    weights = np.array([w for w, _ in patterns], float)
    pick = rng.choice(len(patterns), size=len(parts), p=weights / weights.sum())
    local = pd.Series("", index=parts.index, dtype=object)
    for k, (_, make) in enumerate(patterns):
        chosen = pick == k
        local[chosen] = make(parts[chosen])
    names = np.array(list(domains), dtype=object)
    share = np.array(list(domains.values()), float)
    return (local + "@" + names[rng.choice(len(names), size=len(parts), p=share / share.sum())]).to_numpy(object)


def _family_addresses(rng: np.random.Generator, pop: Population, parts: pd.DataFrame) -> np.ndarray:
    hh = pop.households
    head = hh["start"].to_numpy()
    partner = np.minimum(head + 1, len(parts) - 1)
    family = pd.DataFrame({"f": parts["f"].to_numpy()[head], "p": parts["f"].to_numpy()[partner],
                           "l": parts["l"].to_numpy()[head], "nn": hh["number"].astype(str).to_numpy()})
    return _addresses(rng, family, FAMILY_PATTERNS, FAMILY_DOMAINS)


def _distinct(rng: np.random.Generator, emails: np.ndarray) -> np.ndarray:
    """Emails made distinct: a repeated address gets a number before the @, as a provider would insist."""
    emails = emails.copy()
    hashes = pd.util.hash_array(emails, categorize=False)  # repeats found among integers, not strings
    while (clash := pd.Series(hashes).duplicated().to_numpy()).any():
        local, _, domain = pd.Series(emails[clash]).str.partition("@").T.to_numpy()
        emails[clash] = local + rng.integers(2, 100, int(clash.sum())).astype(str).astype(object) + "@" + domain
        hashes[clash] = pd.util.hash_array(emails[clash], categorize=False)
    return emails
