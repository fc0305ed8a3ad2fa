"""Load on GET /customers/{id}: the API over a published store beside a bare FastAPI constant (the ceiling).

    cdp demo --out /tmp/demo20k --people 20000 && cdp run --config /tmp/demo20k/cdp.yaml
    python -m bench.api_load --config /tmp/demo20k/cdp.yaml [--clients 4,16] [--seconds 20] [--workers 1]

Both servers are uvicorn processes started here with the same settings, driven by wrk (not Python)
on the same machine with the same Lua script: random existing customer ids read from a file, one
reader key. The bare app answers the same paths with a constant, so the gap between the two is what
the API's own work costs (key check, store read, response). The two alternate in short rounds after
a warm-up, so load from other processes falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
import yaml
from fastapi import FastAPI

from api.main import create_app
from cdp.config import load_config
from serving.tables import profiles

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-reader"
PII_KEY = "bench-reader-pii"
"""A reader key with the pii flag: searching by email needs one."""
APPS = {"bare": "bench.api_load:bare_app", "api": "api.main:from_environment"}
LUA = """
local ids = {}
for line in io.lines("%(ids)s") do ids[#ids + 1] = line end
wrk.headers["X-API-Key"] = "%(key)s"
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(seed * 7919)
end
request = function()
  return wrk.format("GET", "/customers/" .. ids[math.random(#ids)])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"p50": %%d, "p99": %%d, "max": %%d, "requests": %%d, "duration_us": %%d, ' ..
    '"errors": %%d}\\n', latency:percentile(50), latency:percentile(99), latency.max, summary.requests,
    summary.duration, e.connect + e.read + e.write + e.status + e.timeout))
end
"""
"""wrk script: each thread reads the ids file and sends a random one per request; `done` prints one
parseable line (latencies in microseconds; errors: socket errors, timeouts and non-2xx/3xx answers)."""


UNTHROTTLED = {"per_minute": 60_000_000, "burst": 1_000_000}
"""The rate limits the benchmark runs with: checked on every request as usual, never reached by one key."""


@contextmanager
def unthrottled(config: Path) -> Any:
    """A copy of `config` beside it (relative paths still resolve) whose rate limits one key cannot reach.

    The default limits (cdp.config.ApiConfig) would answer a single key's thousands of requests a second
    with 429s; the benchmark measures the API's work, the limit check included, not the limit.
    """
    raw = yaml.safe_load(config.read_text())
    raw["api"] = {**raw.get("api", {}), "rate_limit": UNTHROTTLED, "search_rate_limit": UNTHROTTLED}
    copy = config.with_name(f".{config.stem}-api-load-{os.getpid()}.yaml")
    copy.write_text(yaml.safe_dump(raw))
    try:
        yield copy
    finally:
        copy.unlink()


def bare_app() -> FastAPI:
    """The ceiling: FastAPI answering GET /customers/{id} with a constant, no key, no store."""
    app = FastAPI()

    @app.get("/customers/{customer_id}")
    async def constant(customer_id: str) -> dict[str, bool]:
        return {"ok": True}

    return app


@dataclass(frozen=True)
class Result:
    """One wrk run."""

    app: str
    clients: int
    p50_ms: float
    p99_ms: float
    p99_worst_ms: float
    rps: float
    errors: int


def customer_ids(url: str, limit: int) -> list[str]:
    """Up to `limit` random live customer ids of the published store."""
    engine = sa.create_engine(url)
    with engine.connect() as con:
        ids = list(con.execute(sa.select(profiles.c.customer_id)).scalars())
    engine.dispose()
    if not ids:
        raise SystemExit(f"no published customers in {url}: run `cdp run` first")
    return random.Random(7).sample(ids, min(limit, len(ids)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(app: str, config: Path, workers: int, log: Path, keys: str = f"{KEY}:reader") -> Any:
    """A uvicorn process serving `app` (a name in APPS, or the import string of a factory) with the API keys
    `keys`; yields its base URL."""
    port = free_port()
    env = {**os.environ, "CDP_CONFIG": str(config), "CDP_API_KEYS": keys}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", APPS.get(app, app), "--app-dir", str(ROOT),
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
           "--no-access-log"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, proc, log)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/customers/none-such", timeout=2):
                return
        except urllib.error.HTTPError:  # a 401/404 is an answer: the server is up
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {base} did not answer; see {log}")


def check_answer(base: str, customer_id: str) -> None:
    """One real request, so a load of errors is not mistaken for speed."""
    req = urllib.request.Request(f"{base}/customers/{customer_id}", headers={"X-API-Key": KEY})
    with urllib.request.urlopen(req, timeout=5) as r:
        body = json.loads(r.read())
    assert r.status == 200 and body.get("customer_id", customer_id) == customer_id, body


def wrk(base: str, script: Path, clients: int, seconds: int, threads: int) -> dict[str, Any]:
    """Run wrk and parse the script's RESULT line."""
    cmd = ["wrk", f"-t{min(threads, clients)}", f"-c{clients}", f"-d{seconds}s", "--timeout", "5s", "-s", str(script),
           base]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.M)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{out}")
    return dict(json.loads(match.group(1)))


def measure(bases: dict[str, str], script: Path, clients: int, seconds: int, rounds: int,
            threads: int) -> list[Result]:
    """Each app for `seconds` in all, as `rounds` alternating runs (bare, api, bare, api, ...) after a warm-up.

    The machine is shared: alternating short runs spreads any outside load over both apps alike,
    where one long run per app would charge it to whichever ran at the time.
    """
    runs: dict[str, list[dict[str, Any]]] = {app: [] for app in bases}
    for base in bases.values():
        wrk(base, script, clients, 2, threads)  # warm-up: pool, statement caches, page cache
    for _ in range(rounds):
        for app, base in bases.items():
            runs[app].append(wrk(base, script, clients, max(1, seconds // rounds), threads))
    return [_combined(app, clients, rs) for app, rs in runs.items()]


def _combined(app: str, clients: int, runs: list[dict[str, Any]]) -> Result:
    """Median p50 and p99 of the rounds, the worst round's p99, requests/s over all of them."""
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_us"] for r in runs) / 1e6
    return Result(app, clients, statistics.median(r["p50"] for r in runs) / 1000,
                  statistics.median(r["p99"] for r in runs) / 1000, max(r["p99"] for r in runs) / 1000,
                  requests / seconds, sum(r["errors"] for r in runs))


def cpu_per_request(app: Any, ids: list[str], n: int = 5000, key: str = KEY, query: str = "") -> float:
    """Microseconds of this process's CPU per GET /customers/{id}, calling the ASGI app directly (no socket);
    with a `query`, per GET /customers?<query> where each `{}` in it takes one of `ids` (e.g. email={}).

    CPU time, not wall time: other processes on a shared machine barely move it, unlike wrk's figures.
    """
    picks = [random.Random(i).choice(ids) for i in range(n)]
    paths = [("/customers", query.format(quote(v))) if query else (f"/customers/{v}", "") for v in picks]
    headers = [(b"host", b"bench"), (b"x-api-key", key.encode())]

    async def call(request: tuple[str, str]) -> None:
        path, query_string = request
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": query_string.encode(), "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        answer: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.append(message["status"])

        await app(scope, receive, send)
        if answer != [200]:
            raise SystemExit(f"{path}?{query_string} answered {answer}")

    async def run() -> float:
        for path in paths[:200]:  # warm-up
            await call(path)
        start = time.process_time()
        for path in paths:
            await call(path)
        return (time.process_time() - start) / n * 1e6

    return asyncio.run(run())


def report(results: list[Result]) -> str:
    """A Markdown table: bare and API side by side per client count, with the API/bare ratios."""
    lines = ["| clients | app | p50 ms | p99 ms | p99 worst round | req/s | errors | p99 vs bare | req/s vs bare |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    bare = {r.clients: r for r in results if r.app == "bare"}
    for r in results:
        ceiling = bare.get(r.clients)
        ratios = (f"{r.p99_ms / ceiling.p99_ms:.2f}x | {r.rps / ceiling.rps:.2f}x" if ceiling and r.app != "bare"
                  else "|")
        lines.append(f"| {r.clients} | {r.app} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.p99_worst_ms:.2f} | "
                     f"{r.rps:,.0f} | {r.errors} | {ratios} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="cdp.yaml of a published demo")
    ap.add_argument("--clients", default="4,16", help="concurrent connections, comma-separated")
    ap.add_argument("--seconds", type=int, default=20, help="measured seconds per app and client count")
    ap.add_argument("--rounds", type=int, default=5, help="alternating runs the seconds are split into")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per server")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (they share the machine with the server)")
    ap.add_argument("--ids", type=int, default=20_000, help="random customer ids in the script")
    ap.add_argument("--in-process", action="store_true",
                    help="only the in-process CPU figures (no wrk): GET /customers/{id} and a search by email")
    args = ap.parse_args(argv)
    if args.in_process:
        with unthrottled(Path(args.config).resolve()) as config:
            return in_process(config, args.ids)
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (Debian: apt-get install wrk)")
    with unthrottled(Path(args.config).resolve()) as config:
        return run(args, config)


def in_process(config: Path, limit: int) -> int:
    """CPU per request of GET /customers/{id} (reader key: masked) and of a search by email (a pii key), called
    in-process; with $CDP_DATA_KEY set, over a store published encrypted."""
    cfg = load_config(config)
    ids = customer_ids(cfg.serving, limit)
    os.environ["CDP_API_KEYS"] = f"{KEY}:reader,{PII_KEY}:reader:pii"
    app = create_app(cfg)
    emails = [e for e in (json.loads(app.state.reader.profile(i, None))["attributes"]["email"] for i in ids[:2000])
              if e]
    get = cpu_per_request(app, ids)
    search = cpu_per_request(app, emails, 2000, PII_KEY, "email={}")
    print(f"in-process CPU per request (no socket), {cfg.serving}, CDP_DATA_KEY "
          f"{'set' if os.environ.get('CDP_DATA_KEY') else 'unset'}: GET /customers/{{id}} {get:.0f} us "
          f"({1e6 / get:,.0f} req/s of one core), search by email {search:.0f} us ({1e6 / search:,.0f} req/s)")
    return 0


def run(args: argparse.Namespace, config: Path) -> int:
    """The load rounds and the in-process CPU figure over `config`; 1 if any request failed."""
    ids = customer_ids(load_config(config).serving, args.ids)
    clients = [int(c) for c in args.clients.split(",")]
    work = Path(tempfile.mkdtemp(prefix="cdp-api-load-"))
    (work / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    script = work / "customers.lua"
    script.write_text(LUA % {"ids": work / "ids.txt", "key": KEY})
    load = os.getloadavg()[0]
    with ExitStack() as stack:
        bases = {app: stack.enter_context(server(app, config, args.workers, work / f"{app}.log")) for app in APPS}
        check_answer(bases["api"], ids[0])
        results = [r for c in clients for r in measure(bases, script, c, args.seconds, args.rounds, args.threads)]
    print(f"GET /customers/{{id}}: {len(ids):,} ids, {args.seconds} s per app and client count in {args.rounds} "
          f"alternating rounds, uvicorn --workers {args.workers}, wrk -t{args.threads}, {os.cpu_count()} cores shared "
          f"by servers and wrk (load average {load:.1f} before, {os.getloadavg()[0]:.1f} after)")
    print(report(results))
    os.environ["CDP_API_KEYS"] = f"{KEY}:reader"
    cpu = {"bare": cpu_per_request(bare_app(), ids),
           "api": cpu_per_request(create_app(load_config(config)), ids)}
    print(f"\nin-process CPU per request (no socket, no wrk): bare {cpu['bare']:.0f} us, api {cpu['api']:.0f} us, "
          f"the API's own work {cpu['api'] - cpu['bare']:.0f} us")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
