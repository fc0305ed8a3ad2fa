"""cdp: a customer-data platform with identity resolution."""

__version__ = "0.1.0"
