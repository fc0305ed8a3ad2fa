"""Tax ids: digits only; US social security numbers checked against the SSA's rules.

A US SSN has 9 digits, an area (first three) that is not 000, 666 or 9xx, a group (next two)
that is not 00 and a serial (last four) that is not 0000; numbers the SSA has voided after
publication (078-05-1120, 219-09-9999) and the 123-45-6789 sample are invalid too. Elsewhere a
tax id is 5 to 20 digits. Letters anywhere make the value invalid, not a source of digits.
"""

from __future__ import annotations

from ingestion.standardise.macros import evaluate, register, sql_list

VOIDED = ("078051120", "219099999", "123456789")

register(
    "create or replace temp macro cdp_tax_digits(x) as "
    "case when regexp_full_match(trim(x), '[0-9][0-9 .-]*[0-9]') then regexp_replace(x, '[^0-9]', '', 'g') end",
    "create or replace temp macro cdp_ssn(d) as case when length(d) = 9 and d[1:3] not in ('000', '666') "
    f"and d[1] <> '9' and d[4:5] <> '00' and d[6:9] <> '0000' and not list_contains({sql_list(VOIDED)}, d) "
    "then d end",
    # `d` holds the digits: ingestion extracts them once per value, then applies this
    "create or replace temp macro cdp_tax_id_any(d) as case when length(d) between 5 and 20 then d end",
    "create or replace temp macro cdp_tax_id_of(d, country) as "
    "case when country = 'US' then cdp_ssn(d) else cdp_tax_id_any(d) end",
    "create or replace temp macro cdp_tax_id(x, country) as cdp_tax_id_of(cdp_tax_digits(x), country)",
    "create or replace temp macro cdp_tax_id_issue(x, country) as case when cdp_tax_digits(x) is null "
    "then 'not a number' when country = 'US' and length(cdp_tax_digits(x)) <> 9 then 'an SSN has 9 digits' "
    "when country = 'US' then 'not a valid SSN (area, group or serial not issued)' else 'not 5 to 20 digits' end",
)


def normalise_tax_id(value: str | None, country: str = "US") -> str | None:
    """The tax id's digits when valid for `country`, else None."""
    return evaluate("cdp_tax_id(?::VARCHAR, ?::VARCHAR)", value, country)
