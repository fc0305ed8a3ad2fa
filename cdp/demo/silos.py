"""Who appears in which silo, and how each silo writes a person down.

Each person is a customer of one to three silos (finance, sales, service); some hold two records
of one person (an account opened twice, a second requester profile). A record is sometimes
*stale*: entered before the household moved, before a marriage or with an old email, so it
shows the old address and landline, the maiden name, the old address. Then each silo writes the
person its own way: finance bills "SMITH, JOHN A" with SSNs and ISO birth dates, sales keeps a
nickname in first_name and US dates, service knows "Johnny Smith" and an email, little else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from cdp.demo import mess
from cdp.demo.mess import NULL, chance, pick
from cdp.demo.population import REF, STREET_TYPES, YEAR, Population
from cdp.demo.vocab import Vocab
from ingestion.standardise.addresses import US_STATES

SILOS = ("finance", "sales", "service")
SHARE = {"finance": 0.7, "sales": 0.8, "service": 0.6}
"""Chance that a person is a customer of the silo (everyone is in at least one)."""
DUPLICATE = {"finance": 0.04, "sales": 0.07, "service": 0.1}
"""Chance of a second record of the same person in the silo."""
STALE = {"finance": 0.12, "sales": 0.3, "service": 0.25}
"""Chance that a record predates a move, a marriage or an email change."""
STATE_NAMES = {code: name.title() for name, code in US_STATES.items()}
EPOCH = REF - np.timedelta64(int(12 * YEAR), "D")  # the oldest records' age


def appearances(rng: np.random.Generator, n: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per silo, the person behind each record and whether the record is a second one of that person."""
    member = np.stack([chance(rng, n, SHARE[s]) for s in SILOS], axis=1)
    nowhere = ~member.any(axis=1)
    member[nowhere, rng.integers(0, len(SILOS), int(nowhere.sum()))] = True
    member[0, ~member.any(axis=0)] = True  # a silo of a tiny demo still holds someone
    out = {}
    for k, silo in enumerate(SILOS):
        person = np.flatnonzero(member[:, k])
        again = person[chance(rng, person.size, DUPLICATE[silo])]
        person = np.concatenate([person, again])
        order = rng.permutation(person.size)
        out[silo] = (person[order], (np.arange(person.size) >= person.size - again.size)[order])
    return out


def context(rng: np.random.Generator, pop: Population, words: Vocab, person: np.ndarray, second: np.ndarray,
            stale_share: float) -> pd.DataFrame:
    """Per record, the person's values as of when the record was written (clean, not yet formatted)."""
    p = pop.people.iloc[person].reset_index(names="person")
    hh = pop.households.iloc[p["household"].to_numpy()].reset_index(drop=True)
    n = len(p)
    stale = chance(rng, n, np.where(second, 0.5, stale_share))
    old_home = stale & hh["moved_at"].notna().to_numpy()
    for part in ("number", "direction", "street", "street_type", "unit", "place", "landline"):
        p[part] = np.where(old_home, hh[f"old_{part}"], hh[part])
    p["street_type"] = STREET_TYPES[p["street_type"].to_numpy(int)]
    place = words.places.iloc[p["place"].to_numpy(int)]
    p["city"], p["state"], p["zip"] = (place[c].to_numpy(object) for c in ("city", "state", "zip"))
    p["zip4"] = p["zip"] + "-" + pd.Series((p["number"] * 7919 + p["place"]) % 9999 + 1).astype(str).str.zfill(4)
    p["last"] = np.where(stale & p["maiden"].notna() & chance(rng, n, 0.6), p["maiden"], p["last"])
    email = np.where(stale & p["old_email"].notna(), p["old_email"], p["email"])
    family = hh["family_email"].to_numpy(object)
    use_family = pd.notna(family) & (pd.isna(email) | chance(rng, n, 0.3))
    p["email"] = np.where(use_family, family, email)
    p["updated_at"] = _updated_at(rng, hh["moved_at"].to_numpy(), old_home)
    # a stale record's activity ended when the household moved
    p["left_at"] = np.where(old_home, hh["moved_at"].to_numpy(), np.datetime64("NaT"))
    return p


def _updated_at(rng: np.random.Generator, moved_at: np.ndarray, old_home: np.ndarray) -> np.ndarray:
    """A time after the move for a current record, before it for a stale one (within the last 12 years)."""
    since = np.where(np.isnat(moved_at) | old_home, EPOCH, moved_at).astype("datetime64[s]")
    until = np.where(old_home, moved_at, REF).astype("datetime64[s]")
    span = np.maximum((until - since).astype(np.int64), 1)
    return since + (rng.random(len(since)) * span).astype("timedelta64[s]")


def _given(rng: np.random.Generator, p: pd.DataFrame, nickname: float) -> np.ndarray:
    """The first name the record shows: the nickname the person goes by, in `nickname` of the records."""
    return np.where(p["goes_by"].notna() & chance(rng, len(p), nickname), p["goes_by"], p["first"])


def _either(rng: np.random.Generator, first: pd.Series, second: pd.Series, prefer_first: float) -> np.ndarray:
    """One of two phone numbers (prefer the first in the given share), the other when it is missing."""
    a, b = first.to_numpy(object), second.to_numpy(object)
    take_a = chance(rng, len(a), prefer_first)
    return np.where(take_a, np.where(pd.notna(a), a, b), np.where(pd.notna(b), b, a))


def _blank(rng: np.random.Generator, values: np.ndarray, present: float) -> np.ndarray:
    return np.where(chance(rng, len(values), present), values, NULL)


def _reachable(rng: np.random.Generator, p: pd.DataFrame, email: float, phone: float,
               prefer_mobile: float) -> tuple[np.ndarray, np.ndarray]:
    """Email and phone, each kept in its share of the records, but never both left out when the person has one:
    a sales contact or a service requester always leaves a way to reach them."""
    emails = p["email"].to_numpy(object)
    phones = _either(rng, p["mobile"], p["landline"], prefer_mobile)
    kept_email, kept_phone = _blank(rng, emails, email), _blank(rng, phones, phone)
    neither = pd.isna(kept_email) & pd.isna(kept_phone)
    kept_phone = np.where(neither, phones, kept_phone)
    return np.where(neither & pd.isna(kept_phone), emails, kept_email), kept_phone


def finance(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    n = len(p)
    first = mess.typos(rng, _given(rng, p, 0.07), 0.01)
    last = mess.typos(rng, p["last"].to_numpy(object), 0.01)
    middle = np.where(p["middle"].notna() & chance(rng, n, 0.75), " " + p["middle"].str[0], "")
    suffix = np.where(p["suffix"].notna() & chance(rng, n, 0.7), " " + p["suffix"].fillna(""), "")
    styles: list[Callable[[np.ndarray], pd.Series]] = [
        lambda i: pd.Series(last[i] + ", " + first[i] + middle[i] + suffix[i]).str.upper(),
        lambda i: pd.Series(first[i] + middle[i] + " " + last[i] + suffix[i]).str.upper(),
        lambda i: pd.Series(first[i] + " " + last[i] + suffix[i]),
        lambda i: pd.Series(last[i] + " " + first[i]).str.upper(),  # legacy export without the comma
    ]
    legacy = chance(rng, n, 0.45)  # the old billing system wrote addresses in capitals
    iso = mess.date_slips(rng, mess.iso_dates(p["dob"].to_numpy()), 0.01, 0.01)
    return pd.DataFrame({
        "account_name": mess.by_variant(n, pick(rng, n, [0.7, 0.15, 0.12, 0.03]), styles),
        "email": mess.emails(rng, _blank(rng, p["email"].to_numpy(object), 0.65), 0.15, 0.05, 0.05),
        "phone": mess.phones(rng, _blank(rng, _either(rng, p["landline"], p["mobile"], 0.55), 0.92),
                             [3, 3, 1, 1, 2, 1, 0, 1, 0]),
        "billing_street": mess.streets(rng, p, 0.2, np.where(legacy, 1.0, 0.0)),
        "billing_city": np.where(legacy, p["city"].str.upper(), p["city"]),
        "billing_state": p["state"].to_numpy(object),
        "billing_zip": np.where(chance(rng, n, 0.3), p["zip4"], p["zip"]),
        "tax_id": mess.ssns(rng, _blank(rng, mess.typos(rng, p["ssn"].to_numpy(object), 0.005), 0.8), [6, 3, 1]),
        "date_of_birth": _blank(rng, iso, 0.8),
        "last_modified": mess.strftime(p["updated_at"].to_numpy(), "%Y-%m-%d %H:%M:%S"),
    })


def sales(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    n = len(p)
    email, phone = _reachable(rng, p, 0.88, 0.8, 0.9)
    first = mess.typos(rng, _given(rng, p, 0.65), 0.03)
    first = np.where(p["middle"].notna() & chance(rng, n, 0.04), first + " " + p["middle"].str[0], first)
    last = mess.typos(rng, p["last"].to_numpy(object), 0.03)
    word = p["suffix"].fillna("")
    title, upper = word.str.title().to_numpy(object), word.str.upper().to_numpy(object)
    suffix = np.select([chance(rng, n, 0.5), chance(rng, n, 0.5)], [" " + title, ", " + title + "."], " " + upper)
    last = np.where(p["suffix"].notna() & chance(rng, n, 0.4), last + suffix, last)
    swap = chance(rng, n, 0.015)  # typed into the wrong boxes
    first, last = np.where(swap, last, first), np.where(swap, first, last)
    address = chance(rng, n, 0.8)
    iso = mess.date_slips(rng, mess.iso_dates(p["dob"].to_numpy()), 0.012, 0.015)
    return pd.DataFrame({
        "first_name": mess.case(rng, first, 0.04, 0.04),
        "last_name": mess.case(rng, last, 0.04, 0.04),
        "email": mess.emails(rng, mess.typos(rng, email, 0.01), 0.05, 0.1, 0.2),
        "mobile": mess.phones(rng, phone, [3, 3, 2, 1, 1, 1, 1, 1, 1]),
        "street": np.where(address, mess.streets(rng, p, 0.4, 0.05), NULL),
        "city": np.where(address, p["city"], NULL),
        "state": np.where(address, np.where(chance(rng, n, 0.25), p["state"].map(STATE_NAMES), p["state"]), NULL),
        "zip": np.where(address, np.where(chance(rng, n, 0.08), p["zip4"], p["zip"]), NULL),
        "birth_date": mess.us_dates(rng, _blank(rng, iso, 0.45), 0.3),
        "updated_at": mess.strftime(p["updated_at"].to_numpy(), "%Y-%m-%d %H:%M:%S"),
    })


def service(rng: np.random.Generator, p: pd.DataFrame) -> pd.DataFrame:
    n = len(p)
    email, phone = _reachable(rng, p, 0.95, 0.45, 0.8)
    first = mess.typos(rng, _given(rng, p, 0.75), 0.02)
    last = mess.typos(rng, p["last"].to_numpy(object), 0.02)
    middle = np.where(p["middle"].notna() & chance(rng, n, 0.05), " " + p["middle"].str[0] + ".", "")
    suffix = np.where(p["suffix"].notna() & chance(rng, n, 0.3), " " + p["suffix"].str.title(), "")
    formal = chance(rng, n, 0.03)  # "Smith, Johnny"
    name = np.where(formal, last + ", " + first, first + middle + " " + last + suffix)
    return pd.DataFrame({
        "name": mess.case(rng, name, 0.04, 0.08),
        "email": mess.emails(rng, email, 0.03, 0.1, 0.15),
        "phone": mess.phones(rng, phone, [2, 2, 1, 2, 2, 0, 1, 1, 1]),
        "zip": _blank(rng, p["zip"].to_numpy(object), 0.4),
        "updated_at": mess.strftime(p["updated_at"].to_numpy(), "%Y-%m-%dT%H:%M:%SZ"),
    })


WRITERS: dict[str, Callable[[np.random.Generator, pd.DataFrame], pd.DataFrame]] = {
    "finance": finance, "sales": sales, "service": service,
}
