"""Masking of personal values for readers without the `pii` flag: j***@example.com, +1******0100, *****6789.

Each rule is written twice on purpose: as a Python function (one value, for the API) and as a DuckDB
SQL expression (a million profiles at publish time, set-based). tests/cdp/test_serving_mask.py holds
the two to the same answers.

- email: the first character of the local part, then `***`, then the domain as it is;
- phone (E.164): the `+` and first digit, a `*` for each middle digit, the last four digits;
- tax_id: a `*` for each digit but the last four.

A value too short to keep anything is all stars, as long as the value.
"""

from __future__ import annotations

MASKED = ("email", "phone", "tax_id")
"""Attributes a reader without `pii` sees masked."""


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
"""Attribute -> its masking function."""


def _sql_keep_ends(head: int, tail: int) -> str:
    keep = f"left(v, {head}) || " if head else ""
    return (f"case when length(v) <= {head + tail} then repeat('*', length(v)) "
            f"else {keep}repeat('*', length(v) - {head + tail}) || right(v, {tail}) end")


SQL_MACROS: dict[str, str] = {
    "mask_email": "case when v is null then null else left(v, 1) || '***' || "
                  "coalesce(substr(v, nullif(strpos(v, '@'), 0)), '') end",
    "mask_phone": _sql_keep_ends(2, 4),
    "mask_tax_id": _sql_keep_ends(0, 4),
}
"""DuckDB macro name -> body over its one argument `v`; the same rules as the functions above."""


def macros_sql() -> str:
    """`create or replace temp macro` statements for SQL_MACROS (mask_email(v), mask_phone(v), mask_tax_id(v))."""
    return ";\n".join(f"create or replace temp macro {name}(v) as {body}" for name, body in SQL_MACROS.items())
