"""Figures of the MLflow pyfunc engine: publish (log) time, load time, predict latency.

Run: .venv/bin/python benchmarks/bench_pyfunc.py  (temporary sqlite store; prints figures)
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 200

LOAD = r'''
import json, os, sys, time
t0 = time.perf_counter()
import mlflow
t1 = time.perf_counter()
from mlflow.tracking._tracking_service.utils import set_tracking_uri
set_tracking_uri(sys.argv[1])
m = mlflow.pyfunc.load_model("models:/riskengine@champion")
t2 = time.perf_counter()
m2 = mlflow.pyfunc.load_model("models:/riskengine@champion")
t3 = time.perf_counter()
print(json.dumps({"import_mlflow_s": t1 - t0, "cold_load_s": t2 - t1, "warm_load_s": t3 - t2}))
'''


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> None:
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        from riskengine.tracking.pyfunc import _tracking, log_engine_model, model_input

        t = time.perf_counter()
        res = log_engine_model(uri)
        total = time.perf_counter() - t
        print(f"publish total {total:.2f} s (incl. store creation); log_model "
              f"{res.timings_s['log']:.2f} s, checks {res.timings_s['check']:.2f} s, "
              f"register+alias {res.timings_s['register']:.2f} s")
        t = time.perf_counter()
        res2 = log_engine_model(uri)
        print(f"second publish {time.perf_counter() - t:.2f} s; log_model "
              f"{res2.timings_s['log']:.2f} s, checks {res2.timings_s['check']:.2f} s")
        out = subprocess.run([sys.executable, "-c", LOAD, uri], capture_output=True, text=True,
                             check=True, env={**os.environ})
        print("load in a fresh process:", out.stdout.strip().splitlines()[-1])
        import mlflow

        from riskengine.api import load_engine

        with _tracking(uri):
            t = time.perf_counter()
            model = mlflow.pyfunc.load_model("models:/riskengine@champion")
            print(f"load in this process (modules imported) {time.perf_counter() - t:.3f} s")
        payload = json.loads((ROOT / "examples" / "debtor.json").read_text())
        params = {"decided_at": "2026-06-30T00:00:00Z", "reference_date": "2026-06-30"}
        frame = model_input([payload])
        engine = load_engine()
        for _ in range(20):
            model.predict(frame, params=params)
            engine.decide_one(payload, **params)

        def lat(fn) -> list[float]:
            xs = []
            for _ in range(N):
                t = time.perf_counter()
                fn()
                xs.append((time.perf_counter() - t) * 1e3)
            return xs

        a = lat(lambda: model.predict(frame, params=params))
        b = lat(lambda: model.predict(model_input([payload]), params=params))
        c = lat(lambda: engine.decide_one(payload, **params))
        for name, xs in (("pyfunc predict (prebuilt frame)", a),
                         ("pyfunc predict (dict -> frame each call)", b),
                         ("engine.decide_one (in process)", c)):
            print(f"{name}: p50 {statistics.median(xs):.2f} ms, p99 {pct(xs, 0.99):.2f} ms "
                  f"over {N} calls")


if __name__ == "__main__":
    main()
