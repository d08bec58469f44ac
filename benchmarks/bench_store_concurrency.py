"""Two service processes and one limit writer on one PostgreSQL register: nothing lost.

Issue 15 §7. Starts a throwaway PostgreSQL (tests/pgserver.py; or ``--store URL``),
then TWO ``riskengine serve`` processes on free loopback ports with that store
(``--store``, the real engine), and one process writing limit changes through the store
API (``DecisionStore.set_limit``), all at once, on overlapping supplier-debtor pairs:

- each service gets ``--clients`` client threads, each sending ``--requests`` requests,
  alternating ``POST /v1/decisions`` (a pair's payload: examples/debtor.json with its
  ids changed) and ``POST /v1/invoices/check`` (a pair, today);
- the writer makes ``--limit-updates`` ``set_limit`` calls on the same pairs.

Afterwards it counts acknowledged (HTTP 201 for a decision, 200 for a funding check, or a
returned history row) against stored
rows (decisions, funding checks, limit history by author), and checks the register
against its history: each pair's register row equals its last history row (limit and
effective date). Prints the figures; ``--json`` prints them as one JSON object. Exit
status 1 when anything acknowledged is missing or a register row disagrees. Usage::

    .venv/bin/python benchmarks/bench_store_concurrency.py [--requests 60] [--clients 2]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "examples" / "debtor.json").read_text())
PAIRS = [(f"BS-{s}", f"BD-{d}") for s in range(3) for d in range(4)]  # 12 pairs, 3 x 4
WRITER = "bench-writer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _payload(supplier_id: str, debtor_id: str) -> dict[str, Any]:
    p = copy.deepcopy(EXAMPLE)
    p["debtor"]["debtor_id"] = debtor_id
    for rec in p["adverse_records"]:
        rec["record_id"] = f"{debtor_id}-{rec['record_id']}"
    for inv in p["invoices"]:
        inv["invoice_id"] = f"{debtor_id}-{inv['invoice_id']}"
    p["exposure"]["supplier_id"] = supplier_id
    return p


def _check(supplier_id: str, debtor_id: str, n: int) -> dict[str, Any]:
    today = dt.date.today()
    return {"supplier_id": supplier_id, "debtor_id": debtor_id, "invoice_id": f"INV-{n}",
            "amount": 1_000.0, "invoice_date": (today - dt.timedelta(days=5)).isoformat(),
            "due_date": (today + dt.timedelta(days=60)).isoformat(),
            "approved_outstanding": 10_000.0}


def _writer(url: str, count: int) -> int:
    """Child process: ``count`` limit changes through the store API; prints the acks."""
    from riskengine.store import DecisionStore

    acks = 0
    with DecisionStore(url) as store:
        for n in range(count):
            s, d = PAIRS[(n * 5) % len(PAIRS)]
            store.set_limit(s, d, 10_000.0 + 100.0 * n, reason=f"committee {n}",
                            changed_by=WRITER)
            acks += 1
    print(json.dumps({"acks": acks}), flush=True)
    return 0


def _start_service(url: str, token: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "RISKENGINE_API_TOKEN": token, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "riskengine.cli", "serve", "--port",
                             str(port), "--store", url], env=env, cwd=str(ROOT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


def _wait_ready(ports: list[int], procs: list[subprocess.Popen[bytes]]) -> None:
    import httpx

    deadline = time.monotonic() + 300
    for port, proc in zip(ports, procs, strict=True):
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"riskengine serve on port {port} exited ({proc.returncode})")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"riskengine serve on port {port} not ready after 300 s")
            time.sleep(0.2)


def _client(port: int, token: str, worker: int, requests: int, out: Counter[str]) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=60) as http:
        for n in range(requests):
            s, d = PAIRS[(worker * 7 + n) % len(PAIRS)]
            if n % 2 == 0:
                r = http.post("/v1/decisions", json=_payload(s, d))
                kind = "decisions"
                if r.status_code == 201 and r.json().get("approved_limit") is not None:
                    out["register_changes"] += 1
            else:
                r = http.post("/v1/invoices/check", json=_check(s, d, n))
                kind = "funding_checks"
            out[f"{kind}_{r.status_code}"] += 1


def _verify(url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from riskengine.store import DecisionStore
    from riskengine.store.tables import limit_history, limit_register

    with DecisionStore(url) as store, store.engine.connect() as conn:
        by_author = dict(conn.execute(sa.select(limit_history.c.changed_by, sa.func.count())
                                      .group_by(limit_history.c.changed_by)).all())
        applied = limit_history.c.action != "not_applied"  # history only: not the register
        last_id = (sa.select(sa.func.max(limit_history.c.id)).where(applied)
                   .group_by(limit_history.c.supplier_id, limit_history.c.debtor_id))
        last = {(r.supplier_id, r.debtor_id): r for r in conn.execute(
            sa.select(limit_history).where(limit_history.c.id.in_(last_id)))}
        register = list(conn.execute(sa.select(limit_register)))

        def registered(r: Any) -> tuple[float, Any]:
            """The pair's latest limit (a cut waiting for its notice is pending) and date."""
            if r.pending_limit is not None:
                return r.pending_limit, r.pending_effective_date
            return r.limit_amount, r.effective_date

        mismatches = [f"{r.supplier_id}/{r.debtor_id}" for r in register
                      if (r.supplier_id, r.debtor_id) not in last
                      or (last[(r.supplier_id, r.debtor_id)].new_limit,
                          last[(r.supplier_id, r.debtor_id)].effective_date) != registered(r)]
        return {"stored_decisions": store.count("decisions"),
                "stored_funding_checks": store.count("funding_checks"),
                "stored_register_changes_by_services": int(by_author.get("engine", 0)),
                "stored_register_changes_by_writer": int(by_author.get(WRITER, 0)),
                "register_rows": len(register), "pairs_without_register_row":
                    len(set(last) - {(r.supplier_id, r.debtor_id) for r in register}),
                "register_mismatches": mismatches}


def run(url: str, requests: int, clients: int, limit_updates: int) -> dict[str, Any]:
    token = secrets.token_urlsafe(24)
    from riskengine.store import DecisionStore

    DecisionStore(url).close()  # the schema at head before anyone writes
    services = [_start_service(url, token) for _ in range(2)]
    procs, ports = [p for p, _ in services], [port for _, port in services]
    try:
        _wait_ready(ports, procs)
        counts: Counter[str] = Counter()
        per_thread = [Counter[str]() for _ in range(2 * clients)]
        threads = [threading.Thread(target=_client, args=(ports[i % 2], token, i, requests,
                                                          per_thread[i]))
                   for i in range(2 * clients)]
        start = time.perf_counter()
        writer = subprocess.Popen([sys.executable, __file__, "--writer", url,
                                   str(limit_updates)], stdout=subprocess.PIPE, text=True)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out, _ = writer.communicate(timeout=600)
        elapsed = time.perf_counter() - start
        for c in per_thread:
            counts.update(c)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    writer_acks = json.loads(out.strip().splitlines()[-1])["acks"] if writer.returncode == 0 \
        else 0
    figures = {
        "services": 2, "client_threads": 2 * clients, "requests": 2 * clients * requests,
        "seconds": round(elapsed, 2),
        "acknowledged_decisions": counts["decisions_201"],  # 201 Created (issue 18)
        "acknowledged_funding_checks": counts["funding_checks_200"],
        "acknowledged_register_changes_by_services": counts["register_changes"],
        "acknowledged_register_changes_by_writer": writer_acks,
        "writer_exit": writer.returncode,
        "other_statuses": {k: v for k, v in sorted(counts.items())
                           if k not in ("decisions_201", "funding_checks_200",
                                        "register_changes")},
        **_verify(url),
    }
    figures["lost"] = (
        figures["acknowledged_decisions"] - figures["stored_decisions"]
        + figures["acknowledged_funding_checks"] - figures["stored_funding_checks"]
        + figures["acknowledged_register_changes_by_services"]
        - figures["stored_register_changes_by_services"]
        + figures["acknowledged_register_changes_by_writer"]
        - figures["stored_register_changes_by_writer"])
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", default=None,
                    help="a PostgreSQL URL (default: a throwaway server, tests/pgserver.py)")
    ap.add_argument("--requests", type=int, default=60, help="requests per client thread")
    ap.add_argument("--clients", type=int, default=2, help="client threads per service")
    ap.add_argument("--limit-updates", type=int, default=100)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--writer", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.writer:
        return _writer(args.writer[0], int(args.writer[1]))
    server = None
    url = args.store
    if url is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from pgserver import PostgresServer

        server = PostgresServer.start()
        url = server.create_database("bench")
    try:
        f = run(url, args.requests, args.clients, args.limit_updates)
    finally:
        if server is not None:
            server.stop()
    if args.json:
        print(json.dumps(f))
    else:
        print(f"2 x riskengine serve + 1 limit writer on one PostgreSQL store, "
              f"{f['requests']} HTTP requests + {f['acknowledged_register_changes_by_writer']}"
              f" limit changes in {f['seconds']} s")
        for what in ("decisions", "funding_checks"):
            print(f"  {what:32s} acknowledged {f[f'acknowledged_{what}']:6d}   "
                  f"stored {f[f'stored_{what}']:6d}")
        for who in ("services", "writer"):
            print(f"  register changes by {who:12s} acknowledged "
                  f"{f[f'acknowledged_register_changes_by_{who}']:6d}   "
                  f"stored {f[f'stored_register_changes_by_{who}']:6d}")
        print(f"  register rows {f['register_rows']}, mismatches with the last history row: "
              f"{len(f['register_mismatches'])}; other answers: {f['other_statuses']}")
    ok = f["lost"] == 0 and not f["register_mismatches"] and f["writer_exit"] == 0 \
        and f["pairs_without_register_row"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
