"""Whether two values of an identifier could belong to one person: the rules the clustering guards apply.

These mirror the SQL in `identity.settings` (FIRST_COMPATIBLE, DOB_COMPATIBLE) for the one place
that works value by value in Python: the greedy merge in `identity.cluster`. A property-based test
(tests/identity/test_conflicts_sql.py) runs both on generated records and requires the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from jellyfish import damerau_levenshtein_distance, jaro_winkler_similarity

from identity.settings import NAME_COMPATIBLE, NAME_TYPO, SWAPPED_SUM


class Name(NamedTuple):
    """A record's name parts as the first-name rule needs them."""

    first: str
    root: str | None
    last: str | None


class Person(NamedTuple):
    """The identifying values of one record; any may be None."""

    name: Name | None
    dob: str | None  # YYYYMMDD
    tax: str | None


@lru_cache(maxsize=1 << 20)
def first_names_compatible(a: Name, b: Name) -> bool:
    """Same nickname root, a close typo of the name or of its root, an initial, or one's first name the other's last.

    Term for term the SQL of `identity.settings.FIRST_COMPATIBLE` (tests/identity/test_conflicts_sql.py).
    """
    return (
        _close(a.first, b.first, NAME_COMPATIBLE)
        or (a.root is not None and b.root is not None and (a.root == b.root or _close(a.root, b.root, NAME_TYPO)))
        or ((len(a.first) == 1 or len(b.first) == 1) and a.first[:1] == b.first[:1])
        or _crossed(a, b)
        or _crossed(b, a)
    )


def _close(x: str, y: str, similarity: float) -> bool:
    return jaro_winkler_similarity(x, y) >= similarity or damerau_levenshtein_distance(x, y) <= 1


def _crossed(a: Name, b: Name) -> bool:
    """First and last entered the other way round: both names crossed, or `a`'s first is `b`'s last and
    `a`'s own last name is lost."""
    if not b.last:
        return False
    # The model compares names without spaces (identity.model.INPUT_SQL): "DE VOGA" is "DEVOGA".
    first_last = jaro_winkler_similarity(a.first.replace(" ", ""), b.last.replace(" ", ""))
    if not a.last:
        return first_last >= NAME_TYPO
    return first_last + jaro_winkler_similarity(a.last.replace(" ", ""), b.first.replace(" ", "")) >= SWAPPED_SUM


@lru_cache(maxsize=1 << 20)
def dobs_compatible(a: str, b: str) -> bool:
    """Equal, one digit or transposition apart, or day and month swapped."""
    day_month_swap = a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]
    return a == b or damerau_levenshtein_distance(a, b) <= 1 or day_month_swap


@lru_cache(maxsize=1 << 20)
def tax_ids_compatible(a: str, b: str) -> bool:
    """Equal, or one typo apart (a mistyped digit is not a second person)."""
    return a == b or damerau_levenshtein_distance(a, b) <= 1


COMPATIBLE: dict[str, Callable[[Any, Any], bool]] = {
    "tax": tax_ids_compatible,
    "dob": dobs_compatible,
    "name": first_names_compatible,
}
"""Per identifying field of Person, whether two (non-missing) values could belong to one person."""
