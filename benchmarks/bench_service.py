"""Latency and throughput of ``POST /v1/decisions`` over loopback (the real server).

Starts ``riskengine.serve.api`` on uvicorn in a separate process on a free
127.0.0.1 port (one worker, the real engine, a SQLite store in a temporary
directory with synchronous=FULL, access log off), then:

1. one client, one keep-alive connection: ``--requests`` single-debtor
   decisions (examples/debtor.json) after a warm-up; prints p50 / p99 / mean;
2. ``--clients`` concurrent clients (threads, one keep-alive connection each)
   for ``--seconds``: prints the sustained decisions per second.

``--store sqlite://`` keeps the store in memory (no fsync), which separates
the cost of durable commits (disk-bound, shared machines vary a lot) from the
HTTP + engine path. Every answer is checked to be 201 Created. Targets (issue 5 §3): p50 <= 5 ms,
p99 <= 15 ms. Usage::

    .venv/bin/python benchmarks/bench_service.py [--requests 1000] [--clients 4] [--seconds 5]
        [--store sqlite://] [--json-log]

``--json-log``: the server writes its JSON request log (one line per request, issue 18)
into a file, as ``riskengine serve`` writes it to standard error.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BODY = (ROOT / "examples" / "debtor.json").read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(port: int, store_url: str, fake: bool) -> None:
    """Child process: the service, as ``riskengine serve`` runs it, access log off."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from riskengine.serve.api import create_app, serve
    from riskengine.store import DecisionStore

    if fake:
        class Fake:
            model_version = policy_version = "fake"

            def score_payloads(self, payloads, **kw):  # type: ignore[no-untyped-def]
                return [{"debtor_id": p.debtor.debtor_id, "pd": 0.01, "grade": "5",
                         "approved_limit": 1000.0} for p in payloads]
        engine: object = Fake()
    else:
        from riskengine.api import load_engine

        engine = load_engine()
    app = create_app(engine, DecisionStore(store_url), [os.environ["BENCH_TOKEN"]])
    log_file = os.environ.get("BENCH_JSON_LOG")
    if log_file:  # as `riskengine serve` logs: one JSON line per request, into a file
        import logging

        from riskengine.serve.problems import JsonFormatter

        handler = logging.FileHandler(log_file)
        handler.setFormatter(JsonFormatter())
        logging.getLogger().handlers[:] = [handler]
        logging.getLogger().setLevel(logging.INFO)
        serve(app, "127.0.0.1", port, own_logging=True)
        return
    serve(app, "127.0.0.1", port, access_log=False, log_level="warning")


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait until the server on ``port`` answers ``GET /ready`` with 200 (RuntimeError when
    it exits or ``seconds`` pass first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("server did not become ready")
        time.sleep(0.1)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(conn: http.client.HTTPConnection, headers: dict[str, str]) -> float:
    t0 = time.perf_counter()
    conn.request("POST", "/v1/decisions", body=BODY, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    dt = time.perf_counter() - t0
    if resp.status != 201:  # 201 Created (issue 18)
        raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
    return dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--fake-engine", action="store_true",
                    help="a constant engine: measures the HTTP + store path alone")
    ap.add_argument("--store", default=None,
                    help="store URL (default: a SQLite file in a temporary directory); "
                         "'sqlite://' is in memory: no fsync, isolates the HTTP + engine path")
    ap.add_argument("--json-log", action="store_true",
                    help="the server logs one JSON line per request (as riskengine serve "
                         "does) into a file in the temporary directory")
    ap.add_argument("--serve", nargs=2, metavar=("PORT", "STORE_URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        _server(int(args.serve[0]), args.serve[1], args.fake_engine)
        return 0

    token = secrets.token_urlsafe(32)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="bench-service-")
    store_url = args.store or f"sqlite:///{tmp}/bench.db"
    cmd = [sys.executable, __file__, "--serve", str(port), store_url]
    if args.fake_engine:
        cmd.append("--fake-engine")
    env = {**os.environ, "BENCH_TOKEN": token}
    log_file = Path(tmp) / "service.log"
    if args.json_log:
        env["BENCH_JSON_LOG"] = str(log_file)
    proc = subprocess.Popen(cmd, env=env)
    try:
        wait_ready(port, proc, 120)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(args.warmup):
            _post(conn, headers)
        cpu0 = _cpu_seconds(proc.pid)
        lat = np.array([_post(conn, headers) for _ in range(args.requests)]) * 1e3
        cpu1 = _cpu_seconds(proc.pid)
        conn.close()
        p50, p99 = np.percentile(lat, [50, 99])
        engine = "constant fake engine" if args.fake_engine else "real engine"
        store = ("in-memory SQLite store (no fsync)" if store_url == "sqlite://"
                 else f"store {store_url.split(':')[0]} file, synchronous=FULL")
        print(f"POST /v1/decisions, one debtor, keep-alive, loopback, {engine}, {store}")
        print(f"  latency over {args.requests} requests: p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
              f"mean {lat.mean():.2f} ms  max {lat.max():.2f} ms   (target p50 <= 5, p99 <= 15)")
        if cpu0 is not None and cpu1 is not None:
            print(f"  server CPU time per request: {(cpu1 - cpu0) / args.requests * 1e3:.2f} ms "
                  "(less sensitive than latency to other load on the machine)")

        counts = [0] * args.clients
        stop = time.monotonic() + args.seconds
        errors: list[BaseException] = []

        def client(i: int) -> None:
            cc = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                while time.monotonic() < stop:
                    _post(cc, headers)
                    counts[i] += 1
            except BaseException as exc:
                errors.append(exc)
            finally:
                cc.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        if errors:
            raise RuntimeError(f"client error: {errors[0]!r}")
        total = sum(counts)
        print(f"  throughput with {args.clients} concurrent clients over {elapsed:.1f} s: "
              f"{total / elapsed:,.0f} decisions/s ({total} requests, all stored)")
        print(f"  machine: {os.cpu_count()} cores; server: 1 uvicorn worker (h11)")
        if args.json_log:
            lines = log_file.read_text().splitlines()
            requests = sum(1 for ln in lines if '"request_id"' in ln)
            print(f"  request log: {requests} JSON lines of {len(lines)} ({log_file})")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
