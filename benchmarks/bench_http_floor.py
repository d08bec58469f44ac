"""The floor under issue 14's HTTP bar: what any stored decision must cost on this stack.

``bench_ratios.py --only http`` compares ``POST /v1/decisions`` (one decision stored in
the limit register) with ``POST /invocations`` of ``mlflow models serve`` (the same
engine, nothing stored). This script asks how low the first can go at all. It starts
three servers and times them alternately, one request each per round, on keep-alive
connections:

``mlflow``
    ``mlflow models serve`` of the published engine, as ``bench_ratios.py`` starts it.
``engine only``
    A bare FastAPI app on the same uvicorn settings as ``riskengine serve`` (one worker,
    h11, no access log): one ``async`` endpoint reads the body, calls
    ``Engine.decide_one`` and returns the decision as JSON. No token, no validation of
    the answer, no log line, no store: the cheapest way to put the engine behind HTTP.
``engine + one durable row``
    The same endpoint, which also inserts the decision's JSON as one row of one
    SQLite table (WAL, ``synchronous=FULL``, the store's default durability) and
    commits before answering. A stored decision does at least this.

The ratios of these to ``mlflow`` bound what the service can reach while it keeps a
durable register: the service also reads the book, checks a token, validates, writes
the register, history and audit rows, and logs. Only ratios within one run count.
Run::

    .venv/bin/python benchmarks/bench_http_floor.py [--requests 300]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request, Response

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ratios import PAYLOAD, _free_port, _post, _wait_ready, stop_servers

PARAMS = {"decided_at": "2026-06-30T00:00:00Z", "reference_date": "2026-06-30"}


def floor_app(db: str | None) -> Any:
    """The bare app: POST /floor decides the body (and stores it when ``db`` is given)."""
    import riskengine

    engine = riskengine.load_engine()
    conn = None
    if db is not None:
        conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS decisions (id INTEGER PRIMARY KEY, body TEXT)")
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> Response:
        return Response("ok")

    @app.post("/floor")
    async def floor(request: Request) -> Response:
        decision = engine.decide_one(json.loads(await request.body()), **PARAMS)
        text = json.dumps(decision)
        if conn is not None:
            conn.execute("BEGIN")
            conn.execute("INSERT INTO decisions (body) VALUES (?)", (text,))
            conn.execute("COMMIT")
        return Response(text, status_code=201, media_type="application/json")

    return app


def serve_floor(port: int, db: str | None) -> None:
    """Run :func:`floor_app` on uvicorn as ``riskengine serve`` runs its app."""
    import uvicorn

    uvicorn.run(floor_app(db), host="127.0.0.1", port=port, workers=1, timeout_keep_alive=30,
                access_log=False, log_level="warning", server_header=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor, args.db)
        return

    from riskengine.tracking.pyfunc import log_engine_model, model_input

    tmp = Path(tempfile.mkdtemp(prefix="bench-http-floor-"))
    uri = f"sqlite:///{tmp}/mlflow.db"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": uri,
           "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log_engine_model(uri)
    ports = {name: _free_port() for name in ("mlflow", "engine only", "engine + one durable row")}
    me = [sys.executable, str(Path(__file__).resolve()), "--serve-floor"]
    cmds = {
        "mlflow": [str(bin_dir / "mlflow"), "models", "serve", "-m", "models:/riskengine@champion",
                   "--env-manager", "local", "--port", str(ports["mlflow"]),
                   "--host", "127.0.0.1"],
        "engine only": [*me, str(ports["engine only"])],
        "engine + one durable row": [*me, str(ports["engine + one durable row"]),
                                     "--db", str(tmp / "floor.db")],
    }
    procs = {name: subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for name, cmd in cmds.items()}
    try:
        body = PAYLOAD.read_bytes()
        frame = model_input([json.loads(body)])
        ref_body = json.dumps({"dataframe_split": frame.to_dict(orient="split"),
                               "params": PARAMS}).encode()
        calls = {"mlflow": ("/invocations", ref_body)}
        calls.update({name: ("/floor", body) for name in ports if name != "mlflow"})
        conns = {}
        for name, port in ports.items():
            _wait_ready(port, "/ping", procs[name])
            conns[name] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        times = {name: np.empty(args.requests) for name in ports}
        for i in range(-50, args.requests):  # 50 warm-up rounds
            for name, (path, data) in calls.items():
                ms = _post(conns[name], path, data, headers)
                if i >= 0:
                    times[name][i] = ms
        ref = float(np.median(times["mlflow"]))
        print(f"http floor: {args.requests} alternate rounds; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for name, t in times.items():
            p50 = float(np.median(t))
            print(f"  {name:<26} p50 {p50:6.2f} ms (p99 {np.percentile(t, 99):6.2f}); "
                  f"ratio to mlflow {p50 / ref:.2f}")
    finally:
        stop_servers(procs.values(), tmp)


if __name__ == "__main__":
    main()
