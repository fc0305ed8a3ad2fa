"""Standardisation, one module per attribute family, and the per-value functions the API reuses.

The families register SQL macros (see macros.py) at import, in dependency order: names defines
the folding the others build on. Each per-value function runs the same SQL ingestion runs, so a
search value is normalised exactly as the data was.
"""

from ingestion.standardise.names import NameParts, name_root, normalise_name, parse_name  # noqa: I001 (order matters)
from ingestion.standardise.emails import normalise_email
from ingestion.standardise.addresses import normalise_country, normalise_postcode, normalise_street
from ingestion.standardise.tax_ids import normalise_tax_id
from ingestion.standardise.dates import parse_birth_date, parse_timestamp
from ingestion.standardise.phones import normalise_phone

__all__ = [
    "NameParts", "name_root", "normalise_country", "normalise_email", "normalise_name", "normalise_phone",
    "normalise_postcode", "normalise_street", "normalise_tax_id", "parse_birth_date", "parse_name",
    "parse_timestamp",
]
