"""When two records plainly belong to different people: the rules the clustering guards apply.

These mirror the SQL in `identity.settings` (FIRST_COMPATIBLE, DOB_COMPATIBLE) for the one place
that must work record by record in Python: the greedy merge in `identity.cluster`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from jellyfish import damerau_levenshtein_distance, jaro_winkler_similarity

from identity.settings import NAME_COMPATIBLE, NAME_TYPO


class Person(NamedTuple):
    """The identifying part of one record; any field may be None."""

    first: str | None
    root: str | None
    last: str | None
    dob: str | None  # YYYYMMDD
    tax: str | None


def first_names_compatible(a: Person, b: Person) -> bool:
    """Equal, same nickname root, a close typo, an initial, or first and last swapped."""
    if not a.first or not b.first:
        return True
    pairs = [(x, y) for x in {a.first, a.root} for y in {b.first, b.root} if x and y]
    if any(x == y or jaro_winkler_similarity(x, y) >= NAME_COMPATIBLE for x, y in pairs):
        return True
    if (len(a.first) == 1 or len(b.first) == 1) and a.first[0] == b.first[0]:
        return True
    return _swapped(a, b)


def _swapped(a: Person, b: Person) -> bool:
    if not (a.last and b.last):
        return False
    score = jaro_winkler_similarity(a.first or "", b.last) + jaro_winkler_similarity(a.last, b.first or "")
    return score >= 2 * NAME_TYPO - 0.1


def dobs_compatible(a: str | None, b: str | None) -> bool:
    """Equal, one digit or transposition apart, or day and month swapped."""
    if not a or not b or a == b:
        return True
    return damerau_levenshtein_distance(a, b) <= 1 or (a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6])


def tax_ids_compatible(a: str | None, b: str | None) -> bool:
    """Equal, or one typo apart (a mistyped digit is not a second person)."""
    return not a or not b or a == b or damerau_levenshtein_distance(a, b) <= 1


@lru_cache(maxsize=1 << 20)
def conflict(a: Person, b: Person) -> str | None:
    """The attribute that says `a` and `b` are different people, or None.

    An exact shared tax id vouches for the person across a name that was entered wrongly, so
    first names only conflict between records that do not share one.
    """
    if not tax_ids_compatible(a.tax, b.tax):
        return "tax_id"
    if not dobs_compatible(a.dob, b.dob):
        return "birth_date"
    if not (a.tax and a.tax == b.tax) and not first_names_compatible(a, b):
        return "first_name"
    return None
