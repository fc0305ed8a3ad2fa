"""Email addresses: trimmed, lower-cased, validated; Gmail's ignored dots and +tags folded.

"John Smith <J.Smith+news@GoogleMail.com>" and "mailto:jsmith@gmail.com" both give
"jsmith@gmail.com". Addresses whose local part is a placeholder ("none@...", "noemail@...")
are invalid: they would link unrelated people.
"""

from __future__ import annotations

from ingestion.standardise.macros import evaluate, register, sql_list

PLACEHOLDERS = ("na", "n.a", "none", "noemail", "no.email", "no-email", "nomail", "noreply", "no-reply",
                "donotreply", "null", "unknown", "test", "xxx")
# A practical subset of RFC 5322: dot-separated atoms, a dotted domain with a 2+ letter top level.
ATOM = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
PATTERN = rf"{ATOM}(\.{ATOM})*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{{2,}}"

register(
    # the address inside "Name <address>", without a mailto: prefix, trimmed and lower-cased
    "create or replace temp macro cdp_email_clean(x) as "
    r"lower(trim(regexp_replace(regexp_replace(trim(x), '^.*<([^<>]*)>.*$', '\1'), '^mailto:', '', 'i')))",
    "create or replace temp macro cdp_email_checked(e) as case when regexp_full_match(e, "
    f"'{PATTERN.replace(chr(39), chr(39) * 2)}') and not list_contains({sql_list(PLACEHOLDERS)}, "
    "split_part(e, '@', 1)) then e end",
    "create or replace temp macro cdp_email_fold(e) as case when split_part(e, '@', 2) in ('gmail.com', "
    "'googlemail.com') then nullif(replace(split_part(split_part(e, '@', 1), '+', 1), '.', ''), '') || "
    "'@gmail.com' else e end",
    "create or replace temp macro cdp_email(x) as cdp_email_fold(cdp_email_checked(cdp_email_clean(x)))",
    "create or replace temp macro cdp_email_issue(x) as case when not contains(x, '@') then 'no @ in email address' "
    f"when list_contains({sql_list(PLACEHOLDERS)}, split_part(cdp_email_clean(x), '@', 1)) then "
    "'placeholder email address' else 'not a valid email address' end",
)


def normalise_email(value: str | None) -> str | None:
    """An email as ingestion stores it, or None when it is not a valid address."""
    return evaluate("cdp_email(?::VARCHAR)", value)
