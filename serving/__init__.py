"""The serving store: the published, read-optimised copy of the golden side that the API reads.

tables.py is its schema, migrations/ the Alembic history that creates it (migrate.py runs it),
build.py the warehouse queries that fill each table, store.py the backends that bulk-load and atomically
swap a version, publish.py the step that ties them together, decisions.py reads the stewards' decisions
back, assets.py the Dagster assets. The API masks personal values as it reads (api/mask.py): the store
keeps one unmasked copy.
"""
