"""Masking of personal values for readers without the `pii` flag: j***@example.com, +1******0100, *****6789.

The API masks as it answers: the serving store keeps one copy of each profile.

- email: the first character of the local part, then `***`, then the domain as it is;
- phone (E.164): the `+` and first digit, a `*` for each middle digit, the last four digits;
- tax_id: a `*` for each digit but the last four.

A value too short to keep anything is all stars, as long as the value.
"""

from __future__ import annotations

from typing import Any


def mask_email(value: str | None) -> str | None:
    if value is None:
        return None
    local, at, domain = value.partition("@")
    return value[:1] + "***" + at + domain


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail:]


def mask_phone(value: str | None) -> str | None:
    return None if value is None else _keep_ends(value, 2, 4)


def mask_tax_id(value: str | None) -> str | None:
    return None if value is None else _keep_ends(value, 0, 4)


MASK = {"email": mask_email, "phone": mask_phone, "tax_id": mask_tax_id}
"""Attribute -> its masking function: the attributes a reader without `pii` sees masked."""


def masked(attributes: dict[str, Any]) -> dict[str, Any]:
    """Golden attributes as a reader without `pii` sees them."""
    return {a: MASK[a](v) if a in MASK else v for a, v in attributes.items()}
