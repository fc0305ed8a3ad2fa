"""Search values to serving-store keys, normalised exactly as ingestion normalised the data.

The functions are ingestion's own SQL in Python (`ingestion.standardise.fast`, proven equal to it), so
' John.Smith+x@GMail.com ' finds johnsmith@gmail.com and '(555) 123-4567' finds +15551234567, in
microseconds rather than a DuckDB round trip per value.
"""

from __future__ import annotations

from ingestion.standardise import fast, normalise_phone
from serving.tables import SEARCH_ATTRIBUTES, name_key


def pii_searched(given: dict[str, str | None], pii: frozenset[str]) -> list[str]:
    """The given search parameters (name -> value, None when not given) that test one of the `pii` attributes
    (a parameter is named as the search key kind it looks up: tables.SEARCH_ATTRIBUTES)."""
    return [name for name, value in given.items() if value is not None and SEARCH_ATTRIBUTES[name] & pii]


def search_keys(email: str | None, phone: str | None, name: str | None, country: str) -> list[tuple[str, str]]:
    """(kind, value) pairs for the given values; ValueError naming the value that cannot be normalised.

    A name with a first and a last part is looked up by its name key (nicknames folded: Bob Smith finds
    Robert Smith); a single word is taken as a surname, as ingestion reads it.
    """
    keys = []
    if email is not None:
        keys.append(("email", _required(fast.email(email), "email", "a valid email address")))
    if phone is not None:
        keys.append(("phone", _required(normalise_phone(phone, country), "phone",
                                        f"a possible phone number (default country {country})")))
    if name is not None:
        parts = fast.split_name(name)
        last = _required(parts.last, "name", "a name")
        root = fast.first_name_root(parts.first)
        keys.append(("name", name_key(last, root)) if root else ("last_name", last))
    return keys


def _required(value: str | None, field: str, what: str) -> str:
    if value is None:
        raise ValueError(f"{field}: not {what}")
    return value
