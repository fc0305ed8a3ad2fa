"""Email addresses: trimmed, lower-cased, validated; Gmail's ignored dots and +tags folded.

"John Smith <J.Smith+news@GoogleMail.com>" and "mailto:jsmith@gmail.com" both give
"jsmith@gmail.com". Addresses whose local part is a placeholder ("none@...", "noemail@...")
are invalid: they would link unrelated people.
"""

from __future__ import annotations

from ingestion.duck import literal
from ingestion.standardise.macros import evaluate, register, sql_list

PLACEHOLDERS = ("na", "n.a", "none", "noemail", "no.email", "no-email", "nomail", "noreply", "no-reply",
                "donotreply", "null", "unknown", "test", "xxx")
# A practical subset of RFC 5322: dot-separated atoms, a dotted domain with a 2+ letter top level.
ATOM = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
PATTERN = rf"{ATOM}(\.{ATOM})*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{{2,}}"

register(
    # the address inside "Name <address>", without a mailto: prefix, trimmed and lower-cased
    "create or replace temp macro cdp_email_unwrap(x) as "
    "lower(trim(case when contains(x, '<') then regexp_extract(x, '<([^<>]*)>', 1) else x end))",
    "create or replace temp macro cdp_email_clean(x) as "
    "case when starts_with(cdp_email_unwrap(x), 'mailto:') then cdp_email_unwrap(x)[8:] else cdp_email_unwrap(x) end",
    # string_split, not split_part: DuckDB 2.0 fails to bind split_part = constant over a column of only NULLs
    f"create or replace temp macro cdp_email_valid(e) as regexp_full_match(e, {literal(PATTERN)}) "
    f"and string_split(e, '@')[1] not in ({', '.join(map(literal, PLACEHOLDERS))})",
    "create or replace temp macro cdp_email_fold(e) as case when string_split(e, '@')[2] in ('gmail.com', "
    "'googlemail.com') then nullif(replace(string_split(string_split(e, '@')[1], '+')[1], '.', ''), '') || "
    "'@gmail.com' else e end",
    # `e` is a cleaned address: ingestion cleans each value once, then applies this
    "create or replace temp macro cdp_email_of(e) as case when cdp_email_valid(e) then cdp_email_fold(e) end",
    "create or replace temp macro cdp_email(x) as cdp_email_of(cdp_email_clean(x))",
    "create or replace temp macro cdp_email_issue(x) as case when not contains(x, '@') then 'no @ in email address' "
    f"when list_contains({sql_list(PLACEHOLDERS)}, string_split(cdp_email_clean(x), '@')[1]) then "
    "'placeholder email address' else 'not a valid email address' end",
)


def normalise_email(value: str | None) -> str | None:
    """An email as ingestion stores it, or None when it is not a valid address."""
    return evaluate("cdp_email(?::VARCHAR)", value)
