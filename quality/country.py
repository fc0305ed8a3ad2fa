"""Does a source's data fit the country its values are read in? The measure of the `country_rules` check.

Phones, states, postcodes and tax ids are standardised by the rules of the row's country: the
source's `country:`, US when it sets none. A source from elsewhere mapped without `country:`
loses those values (an SSN has 9 digits, an Australian state is no US state) or keeps them only
flagged, and matching quietly gets weaker. Each such value leaves a row in attribute_issues, so
the share of a mapped attribute's values with an issue, over the rows read in the assumed
country, says when that country is most likely wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from cdp.config import SourceConfig
from cdp.schema import ATTRIBUTE_ISSUES, staged_table
from ingestion.duck import ident
from ingestion.standardise.records import MOST

COUNTRY_FIELDS = ("phone", "state", "postcode", "tax_id")
"""Attributes whose rules depend on the country."""
MIN_VALUES = 10
"""Fewer values than this say nothing about the country (one bad value of two is no pattern)."""


@dataclass(frozen=True)
class Misfit:
    """Most of one attribute's values of one source failed the rules of the country assumed for them."""

    source: str
    attribute: str
    country: str
    country_set: bool
    """Whether the source sets `country:` (else the country is the default, US)."""
    failed: int
    values: int
    """Non-empty values of the attribute in rows read in `country`."""

    @property
    def share(self) -> float:
        return self.failed / self.values

    def line(self) -> str:
        """One line for the run's summary: source, attribute, share and the country assumed."""
        hint = (f"`country: {self.country}` is set on the source" if self.country_set else
                f"no `country:` set; set `country:` on the source if it is not {self.country}")
        return (f"source {self.source}: {self.share:.0%} of {self.attribute} values ({self.failed:,} of "
                f"{self.values:,}) failed the rules for {self.country} ({hint})")


def misfits(con: duckdb.DuckDBPyConnection, source: str, src: SourceConfig) -> list[Misfit]:
    """Each mapped country-dependent attribute of which more than MOST of the values failed their country's rules.

    Counted over the rows read in the source's country (a row whose own country column names
    another country is judged by that country's rules, not the assumed one's).
    """
    country, found = src.country.upper(), []
    for attribute in (a for a in COUNTRY_FIELDS if a in src.fields):
        failed, values = con.execute(f"""
            select count(a.source_id), count(*)
            from {ident(staged_table(source))} s
            left join (select distinct source_id from {ATTRIBUTE_ISSUES} where source = ? and field = ?) a
                using (source_id)
            where nullif(trim(s.{attribute}_raw), '') is not null and coalesce(s.country, ?) = ?""",
                                     [source, attribute, country, country]).fetchall()[0]
        if values >= MIN_VALUES and failed > MOST * values:
            found.append(Misfit(source, attribute, country, "country" in src.model_fields_set, failed, values))
    return found
