"""Masking of personal values for readers whose key lacks the `pii` flag.

The attributes masked are cdp.yaml's `api.pii` (by default email, phone, tax_id, birth_date and street).
The API masks as it answers, wherever such a value appears: golden `attributes`, their `display`
forms, the values of each source record (as the source sent them), search results, and timeline
events' attributes named like one of those attributes. The serving store keeps one copy of each
profile. What a masked value keeps is chosen so that it tells a reader which kind of value is on
file, and not enough to contact, locate or identify the person:

- email: the first character of the local part, `***`, then the domain: `j***@example.com`;
- phone: the first two characters (`+1`), a `*` for each middle character, the last four: `+1******0100`;
- tax_id: a `*` for each character but the last four: `*****6789`;
- birth_date: the year only, every other digit a `*` and a month's name `**`: `1984-**-**`,
  `**/**/1984` (no four-digit year: no digit kept);
- street: house and unit numbers `***`, street names their first letter and `***`; only
  directions, street types and unit words are kept: `7323 E Chestnut St` -> `*** E C*** St`;
- any other attribute listed in `api.pii` (a name, a postcode...): its first character and `***`.

A value too short to keep anything is all stars, as long as the value (phone, tax id). Masking is not
undone by searching: searching by a masked attribute needs a `pii` key (api/routes/customers.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ingestion.standardise.addresses import STREET_WORDS

STARS = "***"


def mask_email(value: str) -> str:
    local, at, domain = value.partition("@")
    return value[:1] + STARS + at + domain


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def mask_phone(value: str) -> str:
    return _keep_ends(value, 2, 4)


def mask_tax_id(value: str) -> str:
    return _keep_ends(value, 0, 4)


_YEAR = re.compile(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)")


def mask_birth_date(value: str) -> str:
    """The year kept, every other digit starred and words (month names) `**`: 1984-04-01 -> 1984-**-**."""
    year = _YEAR.search(value)
    start, end = year.span() if year else (len(value), len(value))
    hide = _hide_date_part
    return hide(value[:start]) + value[start:end] + hide(value[end:])


def _hide_date_part(text: str) -> str:
    return re.sub(r"\d", "*", re.sub(r"[^\W\d_]+", "**", text))


DIRECTIONS = frozenset(w for w, short in STREET_WORDS.items() if short in ("N", "S", "E", "W", "NE", "NW", "SE", "SW"))
DIRECTIONS |= frozenset(STREET_WORDS[w] for w in DIRECTIONS)
KEPT_STREET_WORDS = frozenset(STREET_WORDS) | frozenset(STREET_WORDS.values())
"""Directions, street types and unit words (both spellings, as ingestion's standardisation knows them)."""


def mask_street(value: str) -> str:
    """Numbers `***`, the street's name words their initial and `***`; directions, types and unit words kept."""
    words = []
    named = False  # the first word of the name is masked even when it is a type word (`Lake View Dr`)
    for word in value.split():
        letters = re.sub(r"[^\w#]", "", word).upper()
        if any(c.isdigit() for c in word):
            words.append(STARS)
        elif letters in DIRECTIONS or (named and letters in KEPT_STREET_WORDS):
            words.append(word)
        else:
            words.append(word[:1] + STARS if letters else word)
            named = named or bool(letters)
    return " ".join(words)


def mask_other(value: str) -> str:
    """An attribute without a masking of its own: the first character and `***`."""
    return value[:1] + STARS


MASKS: dict[str, Callable[[str], str]] = {"email": mask_email, "phone": mask_phone, "tax_id": mask_tax_id,
                                          "birth_date": mask_birth_date, "street": mask_street}
"""Attribute -> its own masking; other attributes listed in `api.pii` get `mask_other`."""


@dataclass(frozen=True)
class Mask:
    """The masking of the configured PII attributes, for a caller who may not see them."""

    pii: frozenset[str]

    @classmethod
    def of(cls, attributes: Iterable[str]) -> Mask:
        return cls(frozenset(attributes))

    def value(self, attribute: str, value: Any) -> Any:
        """`value` as such a caller sees it: masked when `attribute` is PII (None stays None)."""
        if value is None or attribute not in self.pii:
            return value
        return MASKS.get(attribute, mask_other)(str(value))

    def attributes(self, values: dict[str, Any]) -> dict[str, Any]:
        """Attribute -> value, the PII ones masked."""
        return {a: self.value(a, v) for a, v in values.items()}
