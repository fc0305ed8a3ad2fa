"""The serving store: the published, read-optimised copy of the golden side that the API reads.

tables.py is its schema, migrations/ the Alembic history that creates it, store.py the backends
that bulk-load and atomically swap a version, mask.py the masking of personal values.
"""
