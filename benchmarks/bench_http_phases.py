"""Where the time of one stored decision goes: ``POST /v1/decisions`` by phase (prints a table).

Builds the app as ``riskengine serve`` does (the shipped engine, a SQLite file store in a
temporary directory, a bearer token, the JSON request log, ``gc.freeze`` after loading)
and sends ``--requests`` single-debtor decisions (examples/debtor.json) straight into it
as ASGI calls on an asyncio loop: the middleware, FastAPI's routing and the worker-thread
hop are included; uvicorn's HTTP parsing and the socket are not (``bench_ratios.py --only
http`` times those, against ``mlflow models serve``).

Each phase is a function of the request path wrapped here (and only here) with a timer:
wall time and the thread's CPU time, exclusive of the phases nested in it. The machine
is shared: compare phases by CPU time and by their shares within one run, not by
absolute milliseconds across runs. The last line is what no phase covers (ASGI,
FastAPI, the event loop and the thread hop, in wall time).

``--synchronous normal`` opens the store with ``?synchronous=normal`` (no fsync at each
commit; docs/SERVICE.md "Durability") to measure the commit's fsync: compare the COMMIT
line of two runs. Usage::

    .venv/bin/python benchmarks/bench_http_phases.py [--requests 400] [--synchronous normal]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import gc
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = ROOT / "examples" / "debtor.json"

_wall: collections.Counter[str] = collections.Counter()
_cpu: collections.Counter[str] = collections.Counter()
_calls: collections.Counter[str] = collections.Counter()
_open: list[list[float]] = []  # per nested timer: [wall, cpu] of the phases inside it


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        w0, c0 = time.perf_counter(), time.thread_time()
        _open.append([0.0, 0.0])
        try:
            return fn(*args, **kwargs)
        finally:
            dw, dc = time.perf_counter() - w0, time.thread_time() - c0
            inner = _open.pop()
            _wall[name] += dw - inner[0]
            _cpu[name] += dc - inner[1]
            _calls[name] += 1
            if _open:
                _open[-1][0] += dw
                _open[-1][1] += dc
    return timed


def _wrap(owner: Any, attr: str, name: str) -> None:
    setattr(owner, attr, _timed(name, getattr(owner, attr)))


def _instrument(store: Any, engine: Any) -> None:
    from pydantic import TypeAdapter
    from sqlalchemy.engine.default import DefaultDialect

    import riskengine.store.decisions as decisions
    from riskengine.serve import api, common, problems

    cls = type(store)
    for attr, name in (("insurer_limit_states", "read: insurer limits"),
                       ("fx_rates_on", "read: fx rates in force"),
                       ("book_rest", "read: rest of the book"),
                       ("supplier_book", "read: suppliers' book"),
                       ("store_decisions", "write: store_decisions (the rest)"),
                       ("_insert_decisions", "write: decision, register, history rows"),
                       ("replace_insurer_requests", "write: insurer requests")):
        _wrap(cls, attr, name)
    _wrap(decisions, "_insert_inputs", "write: inputs row")
    _wrap(decisions, "_payload_text", "write: payload JSON")
    _wrap(DefaultDialect, "do_commit", "write: COMMIT (fsync)")
    _wrap(type(engine), "decide_payload", "decide (Engine.decide_payload)")
    # the rule as the service calls it (insurer_requests before request_columns existed)
    _wrap(common, "request_columns" if hasattr(common, "request_columns")
          else "insurer_requests", "insurer requests (policy rule)")
    _wrap(common, "decide_payloads", "decide_payloads (the rest)")
    _wrap(common, "_supplier_book", "suppliers' book (the rest)")
    _wrap(api, "_decision_json", "response: JSON")
    _wrap(TypeAdapter, "validate_json", "parse + validate (pydantic)")
    _wrap(problems.JsonFormatter, "format", "log: JSON line")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--synchronous", choices=("full", "normal"), default="full")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from riskengine.api import load_engine
    from riskengine.serve.api import create_app, json_logging
    from riskengine.store import DecisionStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-http-phases-"))
    option = "?synchronous=normal" if args.synchronous == "normal" else ""
    store = DecisionStore(f"sqlite:///{tmp / 'store.db'}{option}")
    json_logging()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # kept open for the process
    engine = load_engine()
    gc.collect()
    gc.freeze()
    token = secrets.token_urlsafe(32)
    app = create_app(engine, store, [token])
    _instrument(store, engine)
    body = PAYLOAD.read_bytes()
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()),
               (b"authorization", f"Bearer {token}".encode())]

    async def one() -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/v1/decisions",
                 "raw_path": b"/v1/decisions", "root_path": "", "query_string": b"",
                 "headers": headers, "client": ("127.0.0.1", 1),
                 "server": ("127.0.0.1", 8000), "state": {}}
        sent: list[dict[str, Any]] = []
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 201:
            raise RuntimeError(f"POST /v1/decisions: HTTP {sent[0]['status']}")

    async def run() -> tuple[float, float]:
        for _ in range(50):
            await one()
        _wall.clear()
        _cpu.clear()
        _calls.clear()
        w0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            await one()
        return time.perf_counter() - w0, time.process_time() - c0

    wall, cpu = asyncio.run(run())
    n = args.requests
    print(f"POST /v1/decisions in process, {n} requests, synchronous={args.synchronous}: "
          f"wall {wall / n * 1e3:.2f} ms, process CPU {cpu / n * 1e3:.2f} ms a request")
    print(f"  {'phase':44s} {'CPU ms':>7s} {'wall ms':>8s} {'CPU share':>9s}")
    for name in sorted(_wall, key=lambda k: -_cpu[k]):
        print(f"  {name:44s} {_cpu[name] / n * 1e3:7.3f} {_wall[name] / n * 1e3:8.3f} "
              f"{_cpu[name] / cpu:9.1%}")
    rest = wall - sum(_wall.values())
    print(f"  {'(no phase: ASGI, FastAPI, loop, thread hop)':44s} {'':7s} "
          f"{rest / n * 1e3:8.3f}")
    store.close()


if __name__ == "__main__":
    main()
