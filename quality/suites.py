"""The Great Expectations suites of each stage, built in code from the config and the previous run.

Severity says what a failure does: `critical` blocks everything downstream (nothing is
published), `warning` is reported and the run goes on. Every expectation carries a note saying
what it means; the notes show in Data Docs and in the checks' descriptions.

Imports Great Expectations (seconds): only quality.gates imports this module, inside the checks.
"""

from __future__ import annotations

import datetime as dt
import math

import great_expectations as gx
from great_expectations import expectations as gxe
from great_expectations.expectations.metadata_types import FailureSeverity

from cdp.config import QualityConfig
from quality.frames import VALID

BLOCK, WARN = FailureSeverity.CRITICAL, FailureSeverity.WARNING
E164 = r"^\+[1-9][0-9]{6,14}$"
FIRST_BIRTH_DATE = dt.datetime(1900, 1, 2)  # ingestion reads 1900-01-01 as a placeholder


def raw_suite(table: str, key: str, columns: list[str], published: int | None, previous: int | None,
              q: QualityConfig) -> gx.ExpectationSuite:
    """A feed's published rows: mapped columns there, keys present and unique, volume as logged and kept up."""
    suite = gx.ExpectationSuite(name=table)
    for column in dict.fromkeys(columns):
        suite.add_expectation(gxe.ExpectColumnToExist(
            column=column, severity=BLOCK, notes=f"the config maps column {column}"))
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(
        column="_key", severity=BLOCK, notes=f"every published row has a key (column {key})"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(
        column="_key", severity=BLOCK, notes=f"no two published rows share a key (column {key})"))
    if published is not None:
        suite.add_expectation(gxe.ExpectTableRowCountToEqual(
            value=published, severity=BLOCK, notes="the table holds the rows its latest load left in it"))
    if previous is not None:
        least = math.ceil(previous * (1 - q.max_row_drop))
        suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(
            min_value=least, severity=BLOCK,
            notes=f"at least {1 - q.max_row_drop:.0%} of the last accepted load's {previous:,} rows"))
    return suite


def staged_suite(table: str, fields: set[str], q: QualityConfig) -> gx.ExpectationSuite:
    """A source's standardised records: usable emails, phones, birth dates and names."""
    suite = gx.ExpectationSuite(name=table)
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(
        column="source_id", severity=BLOCK, notes="each source record is staged once"))
    shares = {"email": (q.min_valid_email_share, "valid addresses"),
              "phone": (q.min_valid_phone_share, "phone numbers parsed to E.164"),
              "birth_date": (q.min_valid_date_share, "readable, plausible dates")}
    others = ("the others are listed as sent" if q.pii_examples else
              "the others are in `cdp export attribute_issues` (personal values: counts only here)")
    for attr, (share, what) in shares.items():
        if attr in fields:
            suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(
                column=f"{attr}_status", value_set=[VALID], mostly=share, severity=WARN,
                notes=f"at least {share:.0%} of the non-blank values are {what}; {others}"))
    if "phone" in fields:
        suite.add_expectation(gxe.ExpectColumnValuesToMatchRegex(
            column="phone", regex=E164, severity=BLOCK, notes="standardised phones are E.164"))
    if "birth_date" in fields:
        suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(  # datetime bounds: compared vectorised with datetime64
            column="birth_date", min_value=FIRST_BIRTH_DATE, max_value=dt.datetime.combine(dt.date.today(), dt.time()),
            severity=BLOCK,
            notes="standardised birth dates fall between 1900 and today"))
    if fields & {"first_name", "last_name", "full_name"}:
        suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(
            column="name", mostly=q.min_name_share, severity=BLOCK,
            notes=f"at least {q.min_name_share:.0%} of the records carry a name"))
    return suite


def clusters_suite(q: QualityConfig, previous: dict[str, float]) -> gx.ExpectationSuite:
    """Customer sizes bounded; few records in large customers; customer count and match rate steady."""
    suite = gx.ExpectationSuite(name="clusters")
    suite.add_expectation(gxe.ExpectColumnMaxToBeBetween(
        column="size", max_value=q.max_customer_size, severity=BLOCK,
        notes=f"no customer holds more than {q.max_customer_size} records"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(
        column="size", max_value=q.large_customer_size, mostly=1 - q.max_large_customer_share, severity=WARN,
        notes=f"at most {q.max_large_customer_share:.0%} of the records sit in customers of more than "
              f"{q.large_customer_size} records"))
    low, high = 1 - q.max_change, 1 + q.max_change
    if "customers" in previous:
        count = previous["customers"]
        suite.add_expectation(gxe.ExpectColumnUniqueValueCountToBeBetween(
            column="cluster_id", min_value=math.floor(count * low), max_value=math.ceil(count * high),
            severity=WARN, notes=f"customer count within {q.max_change:.0%} of the previous run's {count:,.0f}"))
    if "match_rate" in previous:
        rate = previous["match_rate"]
        suite.add_expectation(gxe.ExpectColumnMeanToBeBetween(
            column="matched", min_value=rate * low, max_value=rate * high, severity=WARN,
            notes=f"share of records matched to another within {q.max_change:.0%} of the previous run's {rate:.1%}"))
    return suite


def crosswalk_suite() -> gx.ExpectationSuite:
    """Every staged record has exactly one customer id."""
    return gx.ExpectationSuite(name="customers", expectations=[
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id", severity=BLOCK,
                                          notes="every staged record has a customer id"),
        gxe.ExpectColumnValuesToBeUnique(column="record_id", severity=BLOCK,
                                         notes="no record has two customer ids"),
    ])


def golden_suite(q: QualityConfig) -> gx.ExpectationSuite:
    """One profile per customer; most profiles name the person and say how to reach them."""
    share = q.min_golden_completeness
    return gx.ExpectationSuite(name="golden", expectations=[
        gxe.ExpectColumnValuesToBeUnique(column="customer_id", severity=BLOCK, notes="one profile per customer"),
        gxe.ExpectColumnValuesToNotBeNull(column="last_name", mostly=share, severity=WARN,
                                          notes=f"at least {share:.0%} of the profiles carry a last name"),
        gxe.ExpectColumnValuesToNotBeNull(column="contact", mostly=share, severity=WARN,
                                          notes=f"at least {share:.0%} of the profiles carry an email, "
                                                "phone or street"),
    ])
