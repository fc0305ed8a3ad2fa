"""`cdp backup --out DIR` and `cdp restore DIR`: a consistent snapshot of a project's state, and back.

DIR/manifest.json       what was taken, when, by which cdp, and what was not
DIR/warehouse.duckdb    the warehouse (raw, staged, identity tables, steward decisions as last imported,
                        the quarantine; suppressions where a project has them), with its WAL if one was left
DIR/serving.db          a SQLite serving store, whole: every published version's tables, publish log,
                        the stewards' decisions and anything else the API writes there
DIR/serving/*.parquet   a PostgreSQL serving store: only the tables a publish does not rebuild (the
                        stewards' decisions, the audit, the change feed and its webhook attempts, and any
                        other table the API writes); the published tables are
                        not copied: `cdp run` rebuilds them from the restored warehouse, or use pg_dump
DIR/models/             the match models, the one in use and any set aside as implausible
DIR/data.key            the generated data key (cdp.datakey) the suppression list is hashed with, when
                        $CDP_DATA_KEY does not give it: without it a restored project could not read its
                        own suppression list

Both commands run under the project's lock (cdp.state), so no run writes the warehouse meanwhile.
`cdp serve` keeps answering throughout: the SQLite store is read through SQLite's online backup (a
read transaction, which in WAL mode blocks no one) and restored the same way into the live file, so
a running server reads the restored version on its next request. Not included: the Dagster run
history and the quality reports (the next run writes new ones), and cdp.yaml and the sources.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from cdp import __version__
from cdp.config import Config, ConfigError, sqlite_file
from cdp.datakey import KEY_FILE
from serving import tables
from serving.store import SHADOW, ServingStore


class BackupError(ValueError):
    """A backup that cannot be written or restored, and why."""


MANIFEST = "manifest.json"
WAREHOUSE = "warehouse.duckdb"
SERVING_FILE = "serving.db"
SERVING_TABLES = "serving"
MODELS = "models"
WAL = ".wal"
NOT_INCLUDED = ["Dagster run history", "quality reports (the next run writes new ones)", "cdp.yaml and the sources"]


@dataclass
class Manifest:
    """What one backup holds."""

    cdp_version: str
    taken_at: str
    """UTC, ISO 8601."""
    serving_kind: str
    """sqlite: the whole store in serving.db; otherwise the tables in serving/ only."""
    serving_version: int | None
    """The published version the store held."""
    serving_tables: list[str] = field(default_factory=list)
    """The store's tables the backup holds."""
    not_included: list[str] = field(default_factory=list)
    """What a restore does not bring back, in words."""

    def lines(self, restored: bool = False) -> list[str]:
        """What `cdp backup` / `cdp restore` print."""
        verb = "restored" if restored else "backed up"
        store = ("the whole serving store (SQLite)" if self.serving_kind == "sqlite" else
                 f"from the {self.serving_kind} serving store: {', '.join(self.serving_tables) or 'no table'}")
        lines = [f"{verb}: warehouse, models, {store}; published version {self.serving_version}, "
                 f"taken {self.taken_at}"]
        lines += [f"not included: {what}" for what in self.not_included]
        if restored and self.serving_kind != "sqlite":
            lines.append("next: `cdp run` publishes the restored warehouse to the serving store")
        return lines


def backup(cfg: Config, out: Path) -> Manifest:
    """Write the snapshot into `out` (a new or empty folder); the caller holds the project's lock."""
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty (give a new folder)")
    if not cfg.warehouse_path.exists():
        raise BackupError(f"no warehouse at {cfg.warehouse_path} yet (run `cdp run` first)")
    out.mkdir(parents=True, exist_ok=True)
    _copy_warehouse(cfg.warehouse_path, out / WAREHOUSE)
    models = cfg.state_dir / MODELS
    if models.is_dir():
        shutil.copytree(models, out / MODELS)
    if (cfg.state_dir / KEY_FILE).exists():
        shutil.copyfile(cfg.state_dir / KEY_FILE, out / KEY_FILE)
    manifest = _backup_serving(cfg.serving, out)
    (out / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def restore(cfg: Config, folder: Path) -> Manifest:
    """Put the snapshot in `folder` back in place of the project's state; the caller holds the project's lock."""
    manifest = read_manifest(folder)
    if manifest.serving_kind != _kind(cfg.serving):
        raise BackupError(f"the backup holds a {manifest.serving_kind} serving store, the config names "
                          f"a {_kind(cfg.serving)} one")
    _copy_warehouse(folder / WAREHOUSE, cfg.warehouse_path)
    _replace_folder(folder / MODELS, cfg.state_dir / MODELS)
    if (folder / KEY_FILE).exists():
        shutil.copyfile(folder / KEY_FILE, cfg.state_dir / KEY_FILE)
    if manifest.serving_kind == "sqlite":
        if (folder / SERVING_FILE).exists():  # absent when nothing had been published
            _sqlite_copy(folder / SERVING_FILE, _sqlite_path(cfg.serving))
    else:
        _restore_tables(cfg.serving, folder / SERVING_TABLES, manifest.serving_tables)
    return manifest


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the backup in `folder`; a BackupError when there is none."""
    try:
        return Manifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BackupError(f"{folder} holds no cdp backup ({folder / MANIFEST}: {exc})") from None


# --- the warehouse and the models: files ---------------------------------------------------------

def _copy_warehouse(source: Path, target: Path) -> None:
    """Copy a DuckDB file and its WAL, if any; a WAL at the target that is not the source's is removed first
    (DuckDB would replay it onto the wrong file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source_wal, target_wal = _wal(source), _wal(target)
    target_wal.unlink(missing_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    partial.replace(target)
    if source_wal.exists():
        shutil.copyfile(source_wal, target_wal)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + WAL)


def _replace_folder(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source` (removed when `source` does not exist)."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, partial)
    shutil.rmtree(target, ignore_errors=True)
    if partial.exists():
        partial.rename(target)


# --- the serving store ---------------------------------------------------------------------------

def _kind(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def _sqlite_path(url: str) -> Path:
    path = sqlite_file(url)
    if path is None:
        raise ConfigError(f"serving: {url} is not a SQLite file")
    return path


def _backup_serving(url: str, out: Path) -> Manifest:
    kind = _kind(url)
    manifest = Manifest(__version__, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), kind, None,
                        not_included=list(NOT_INCLUDED))
    if kind != "sqlite":
        manifest.serving_tables = _dump_tables(url, out / SERVING_TABLES)
        manifest.serving_version = _version(url)
        manifest.not_included.insert(0, f"the published tables of the {kind} store "
                                        f"({', '.join(t.name for t in tables.PUBLISHED)}): `cdp run` rebuilds them "
                                        "from the warehouse; pg_dump copies them as they are")
    elif _sqlite_path(url).exists():
        _sqlite_copy(_sqlite_path(url), out / SERVING_FILE)
        manifest.serving_tables = _sqlite_tables(out / SERVING_FILE)
        manifest.serving_version = _version(f"sqlite:///{out / SERVING_FILE}")
    return manifest


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup of `source` into `target` in one step: one read transaction, a consistent copy
    that blocks no reader (WAL) and is written into `target` under its write lock."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _sqlite_tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        rows = con.execute("select name from sqlite_master where type = 'table' order by name").fetchall()
    con.close()
    return [name for (name,) in rows]


def _version(url: str) -> int | None:
    """The published version the store holds, None before the first publish."""
    store = ServingStore.open(url)
    try:
        has_log = sa.inspect(store.engine).has_table(tables.publish_log.name)
        return store.current_version() if has_log else None
    finally:
        store.close()


def _kept_tables(engine: sa.Engine) -> list[str]:
    """The store's tables a publish does not rebuild (decisions and whatever else the API writes)."""
    rebuilt = {t.name for t in tables.PUBLISHED} | {"alembic_version", tables.publish_log.name}
    return sorted(name for name in sa.inspect(engine).get_table_names()
                  if name not in rebuilt and not name.endswith(SHADOW))


def _dump_tables(url: str, folder: Path) -> list[str]:
    """Each kept table as Parquet, all read in one repeatable-read transaction (one consistent state)."""
    folder.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, isolation_level="REPEATABLE READ")
    try:
        names = _kept_tables(engine)
        with engine.connect() as conn:
            for name in names:
                result = conn.execute(sa.text(f'select * from "{name}"'))
                rows = [dict(row._mapping) for row in result]
                pq.write_table(pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in result.keys()}),
                               folder / f"{name}.parquet")
    finally:
        engine.dispose()
    return names


def _restore_tables(url: str, folder: Path, names: list[str]) -> None:
    """Replace each kept table's rows by the backup's, in one transaction, its id sequences moved past them."""
    store = ServingStore.open(url)
    try:
        store.migrate()
        meta = sa.MetaData()
        with store.engine.begin() as conn:
            for name in names:
                table = sa.Table(name, meta, autoload_with=conn)
                conn.execute(table.delete())
                rows = pq.read_table(folder / f"{name}.parquet").to_pylist()
                if rows:
                    conn.execute(table.insert(), rows)
                for column in table.primary_key.columns:
                    _advance_sequence(conn, name, column.name)
    finally:
        store.close()


def _advance_sequence(conn: sa.Connection, table: str, column: str) -> None:
    """Move the column's id sequence, if it has one, past the restored ids: the next insert takes a new one."""
    sequence = conn.execute(sa.text("select pg_get_serial_sequence(:t, :c)"),
                            {"t": f'"{table}"', "c": column}).scalar()
    if sequence is not None:
        conn.execute(sa.text(f'select setval(:s, coalesce((select max("{column}") from "{table}"), 0) + 1, false)'),
                     {"s": sequence})
