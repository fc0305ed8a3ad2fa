"""cdp: a customer-data platform with identity resolution."""

from importlib.metadata import version

__version__ = version("cdp")
"""The installed distribution's version (pyproject.toml holds the one copy)."""
