"""HTTP decision and funding-check latency on a SQLite store and on PostgreSQL (one run).

Issue 15 §7. For each backend, starts the service as benchmarks/bench_service.py does
(its ``--serve`` child: uvicorn, one worker, the real engine, access log off) on a free
loopback port, then over one keep-alive connection: ``--requests`` single-debtor
``POST /v1/decisions`` (examples/debtor.json) and ``--requests`` ``POST /v1/invoices/check``
on the same pair (which read the register and the latest decision, and store the check),
each after a warm-up; prints p50 / p99 per route and backend.

Backends: a SQLite file (WAL, synchronous=FULL) in a temporary directory, and a
throwaway PostgreSQL server (tests/pgserver.py: unix socket, PostgreSQL's durable
defaults: fsync on, synchronous_commit on) or ``--postgres URL``. Usage::

    .venv/bin/python benchmarks/bench_service_backends.py [--requests 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_service import BODY, _free_port, wait_ready  # noqa: E402

_EXAMPLE = json.loads(BODY)
_today = dt.date.today()
CHECK = json.dumps({
    "supplier_id": _EXAMPLE["exposure"]["supplier_id"],
    "debtor_id": _EXAMPLE["debtor"]["debtor_id"], "invoice_id": "INV-BENCH",
    "amount": 1_000.0, "invoice_date": (_today - dt.timedelta(days=5)).isoformat(),
    "due_date": (_today + dt.timedelta(days=60)).isoformat(),
    "approved_outstanding": 10_000.0}).encode()


def _timed(conn: http.client.HTTPConnection, path: str, body: bytes,
           headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    conn.request("POST", path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = time.perf_counter() - t0
    if resp.status != 200:
        raise RuntimeError(f"{path}: HTTP {resp.status}: {data[:200]!r}")
    return elapsed


def _measure(store_url: str, requests: int, warmup: int) -> dict[str, tuple[float, float]]:
    token = secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "bench_service.py"), "--serve",
                             str(port), store_url], env={**os.environ, "BENCH_TOKEN": token})
    try:
        wait_ready(port, proc, 300)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        out = {}
        for name, path, body in (("decision", "/v1/decisions", BODY),
                                 ("funding check", "/v1/invoices/check", CHECK)):
            for _ in range(warmup):
                _timed(conn, path, body, headers)
            lat = np.array([_timed(conn, path, body, headers) for _ in range(requests)]) * 1e3
            p50, p99 = np.percentile(lat, [50, 99])
            out[name] = (float(p50), float(p99))
        conn.close()
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--postgres", default=None,
                    help="a PostgreSQL URL (default: a throwaway server, tests/pgserver.py)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-backends-")
    server = None
    pg_url = args.postgres
    if pg_url is None:
        from pgserver import PostgresServer

        server = PostgresServer.start(durable=True)
        pg_url = server.create_database("bench")
    try:
        results = {"SQLite file (WAL, synchronous=FULL)": _measure(
                       f"sqlite:///{tmp}/bench.db", args.requests, args.warmup),
                   "PostgreSQL" + (" (throwaway, unix socket, fsync on)" if server else ""):
                       _measure(pg_url, args.requests, args.warmup)}
    finally:
        if server is not None:
            server.stop()
    print(f"HTTP over loopback, keep-alive, real engine, {args.requests} requests per route "
          f"after {args.warmup} warm-up; {os.cpu_count()} cores")
    for backend, routes in results.items():
        for route, (p50, p99) in routes.items():
            print(f"  {backend:48s} {route:14s} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
