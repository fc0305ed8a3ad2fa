"""The `cdp` command line. Heavy imports (Dagster, Splink, Great Expectations) happen per command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cdp import __version__
from cdp.config import Config, ConfigError, config_path, load_config
from cdp.state import Busy, owner_only, private_file, project_lock

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_BUSY = 75
"""Another command holds the project's lock: try again later (sysexits' EX_TEMPFAIL)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `cdp` console script. Whatever a command writes is owner-only (cdp.state)."""
    args = _parser().parse_args(argv)
    try:
        with owner_only():
            return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"cdp: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Busy as exc:
        print(f"cdp: {exc}; try again when it has finished", file=sys.stderr)
        return EXIT_BUSY


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def cmd_demo(args: argparse.Namespace) -> int:
    from cdp.demo import write_demo

    path = write_demo(Path(args.out), people=args.people, seed=args.seed)
    print(f"demo written: {path}\nnext: cdp run --config {path}")
    return 0


def cmd_run(args: argparse.Namespace, retrain: bool = False) -> int:
    from cdp.runner import import_labels, run_pipeline
    from cdp.summary import print_outcome
    from ingestion import check_columns

    cfg = _config(args)
    with_labels = getattr(args, "with_labels", False)
    with project_lock(cfg.state_dir, "run"):  # the whole run: two writers of one DuckDB file fail each other
        check_columns(cfg)
        if with_labels and not (labels := import_labels(cfg)).enough():
            from identity.labels import MIN_EACH, MIN_LABELS

            print(f"cdp train: the stewards' labels are {labels.describe()}; --with-labels needs at least "
                  f"{MIN_LABELS}, with {MIN_EACH} of each kind (nothing was run)", file=sys.stderr)
            return EXIT_FAILED
        outcome = run_pipeline(cfg, retrain=retrain or getattr(args, "retrain", False), with_labels=with_labels,
                               full=getattr(args, "full", False))
    return print_outcome(cfg, outcome)


def cmd_train(args: argparse.Namespace) -> int:
    return cmd_run(args, retrain=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import copy
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from api.main import create_app
    from api.startup import startup_lines

    cfg = _config(args)  # a bad config fails here, before any worker starts
    print("\n".join(startup_lines(cfg, args.host, args.port)), flush=True)
    # uvicorn's access log (a line per request), but only warnings from the server itself: the
    # lines above already say where it listens.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    options = {"host": args.host, "port": args.port, "log_config": log_config, "log_level": None,
               "access_log": args.access_log}
    if args.workers == 1:
        uvicorn.run(create_app(cfg), **options)
    else:  # each worker process builds its own app from the same config file
        os.environ["CDP_CONFIG"] = str(config_path(args.config).resolve())
        uvicorn.run("api.main:from_environment", factory=True, workers=args.workers, **options)
    return 0


def cmd_dagster(args: argparse.Namespace) -> int:
    """Replace this process with `dagster dev` over the config's graph and the instance `cdp run` records in."""
    from cdp.runner import prepare_instance

    cfg = _config(args)
    env = os.environ | {"DAGSTER_HOME": str(prepare_instance(cfg).resolve()),
                        "CDP_CONFIG": str(config_path(args.config).resolve())}
    # `-m cdp.definitions` is what workspace.yaml loads; exec, so Ctrl-C reaches dagster dev and its children
    os.execve(sys.executable, [sys.executable, "-m", "dagster", "dev", "-m", "cdp.definitions",
                               "--port", str(args.port)], env)


def cmd_model(args: argparse.Namespace) -> int:
    """Print the match model in use: its weights per level and anything implausible; 1 when there is none."""
    from cdp.schema import STAGED
    from cdp.warehouse import open_warehouse, table_exists
    from identity.labels import summary
    from identity.model import ModelStore
    from identity.plausible import problems, weights_table

    cfg = _config(args)
    store = ModelStore(cfg.state_dir / "models")
    current = store.current()
    if current is None:
        print(f"no match model in {store.folder} yet: `cdp run` trains one", file=sys.stderr)
        return EXIT_FAILED
    model = store.load()
    print(f"model: {current}\n{summary(model)}\n{weights_table(model)}")
    records = 0
    if cfg.warehouse_path.exists():  # under the lock: a run holds the file, and DuckDB would refuse with its own error
        with (project_lock(cfg.state_dir, "model"),
              open_warehouse(cfg.warehouse_path, read_only=True, options=cfg.warehouse_options) as con):
            records = con.execute(f"select count(*) from {STAGED}").fetchall()[0][0] if table_exists(con, STAGED) else 0
    found = problems(model, records) if records else []
    print("\n".join(f"implausible: {line}" for line in found) or "\nplausible: no near level outweighs an exact one, "
          "and the prior expects at least one matching pair")
    return EXIT_FAILED if found else 0


def cmd_export(args: argparse.Namespace) -> int:
    cfg = _config(args)
    out = Path(args.out)
    if args.what == "crosswalk":
        from serving.publish import export_source_records

        rows = export_source_records(cfg.serving, out)
    else:
        from cdp.warehouse import open_warehouse
        from quality.quarantine import export_attribute_issues, export_quarantine, personal_columns

        with (project_lock(cfg.state_dir, "export"),
              open_warehouse(cfg.warehouse_path, options=cfg.warehouse_options) as con):
            if args.what == "quarantine":
                rows = export_quarantine(con, out, {} if args.with_pii else personal_columns(cfg))
            else:
                rows = export_attribute_issues(con, out, [] if args.with_pii else cfg.api.pii)
    private_file(out)
    masked = "" if args.with_pii or args.what == "crosswalk" else f" ({', '.join(cfg.api.pii)} masked)"
    print(f"{rows} rows written to {out}{masked}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Snapshot warehouse, serving store and models into a new folder, while the API keeps serving."""
    from cdp.backup import BackupError, backup

    cfg = _config(args)
    try:
        with project_lock(cfg.state_dir, "backup"):
            manifest = backup(cfg, Path(args.out))
    except BackupError as exc:
        print(f"cdp backup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(manifest.lines()))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put a backup back: refused while a run (or another command) holds the project's lock."""
    from cdp.backup import BackupError, restore

    cfg = _config(args)
    try:
        with project_lock(cfg.state_dir, "restore", wait=0):
            manifest = restore(cfg, Path(args.folder))
    except BackupError as exc:
        print(f"cdp restore: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print("\n".join(manifest.lines(restored=True)))
    return 0


def cmd_webhooks(args: argparse.Namespace) -> int:
    """deliver: one delivery pass to cdp.yaml's webhooks (1 when an endpoint is still failing); status: where
    each endpoint stands."""
    from serving.webhooks import deliver, status

    cfg = _config(args)
    if not cfg.webhooks:
        print("no webhooks in cdp.yaml (see `webhooks:` in the README)")
        return 0
    outcome = deliver(cfg.serving, cfg.webhooks, budget=args.budget) if args.action == "deliver" \
        else status(cfg.serving, cfg.webhooks)
    for r in outcome:
        error = f"  last error: {r.last_error}" if r.last_error else ""
        print(f"{r.url}  delivered {r.delivered}  pending {r.pending}  failing {r.failing}{error}")
    return EXIT_FAILED if args.action == "deliver" and any(r.failing for r in outcome) else 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="cdp", description="Customer-data platform with identity resolution.")
    ap.add_argument("--version", action="version", version=f"cdp {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", help="cdp.yaml (default: $CDP_CONFIG, else ./cdp.yaml)")

    p = sub.add_parser("demo", help="write realistic demo silos and their cdp.yaml")
    p.add_argument("--out", required=True, help="folder to write into")
    p.add_argument("--people", type=int, default=2000, help="number of people behind the records")
    p.add_argument("--seed", type=int, default=7,
                   help="random seed: the same seed and --people write the same silos (default 7)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", parents=[config], help="ingest, check, resolve identities and publish")
    p.add_argument("--retrain", action="store_true", help="retrain the match model before matching")
    p.add_argument("--full", action="store_true",
                   help="re-read and re-resolve everything, not only what changed since the last run")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("train", parents=[config], help="retrain the match model, then run")
    p.add_argument("--with-labels", action="store_true",
                   help="also learn m and the threshold from the stewards' decisions, the latest included "
                        "(a run does so by itself once there are 50, 10 of each kind; this fails with fewer)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("serve", parents=[config], help="serve the read API over the published store")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, help="TCP port to listen on (default 8000)")
    p.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                   help="print a line per request (default); --no-access-log saves its ~40 us of CPU per request")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (2 on a 2-core machine doubles the requests answered per second)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("dagster", parents=[config],
                       help="open Dagster's UI (dagster dev) on the asset graph and the runs `cdp run` recorded")
    p.add_argument("--port", type=int, default=3000, help="port of Dagster's UI (default 3000)")
    p.set_defaults(func=cmd_dagster)

    p = sub.add_parser("model", parents=[config],
                       help="show the match model in use: m, u and match weight of every comparison level")
    p.set_defaults(func=cmd_model)

    p = sub.add_parser("export", parents=[config], help="write a published table to CSV")
    p.add_argument("what", choices=["crosswalk", "quarantine", "attribute_issues"],
                   help="crosswalk: source records and their customer ids; quarantine: input rows not published; "
                        "attribute_issues: values set aside during standardisation (record, field, reason)")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--with-pii", action="store_true",
                   help="quarantine, attribute_issues: write the personal values (api.pii) as sent, not masked")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("webhooks", parents=[config], help="deliver the change feed to cdp.yaml's webhooks, or show "
                                                          "where each endpoint stands")
    p.add_argument("action", choices=["deliver", "status"],
                   help="deliver: send what is pending now (a run does so after publishing); status: per endpoint, "
                        "events delivered and pending, failed attempts since the last delivery, the last error")
    p.add_argument("--budget", type=float, default=60.0, help="deliver: seconds to spend at most (default 60)")
    p.set_defaults(func=cmd_webhooks)

    p = sub.add_parser("backup", parents=[config],
                       help="snapshot warehouse, serving store, steward decisions and models (the API keeps serving)")
    p.add_argument("--out", required=True, help="a new folder to write the snapshot into")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", parents=[config], help="put a `cdp backup` snapshot back (refused while a run is on)")
    p.add_argument("folder", help="the folder `cdp backup --out` wrote")
    p.set_defaults(func=cmd_restore)
    return ap


if __name__ == "__main__":
    sys.exit(main())
