"""Sign-in throttling and cost of the officer's pages (issue 18), over loopback.

Starts the service (``riskengine.serve.api.create_app`` on uvicorn, one worker, a SQLite
store in a temporary directory with two accounts made as ``riskengine users add`` makes
them, a stand-in engine: signing in never scores) in a child process, then, as a browser
would (a fresh login page and nonce before each attempt):

1. ``--logins`` successful sign-ins of one account: p50 / p90 of the POST (argon2id at
   ``riskengine.serve.accounts.HASH_PARAMETERS`` dominates) and of the hash alone;
2. one login nonce replayed ``--attempts`` times with wrong passwords: responses by
   status (issue 18: one nonce served 2,001 attempts);
3. ``--attempts`` wrong passwords on another account: attempts before the lockout,
   responses by status, and the attempts per second (issue 18: 2,000 wrong tokens at
   203/s, no 429).

Usage::

    .venv/bin/python benchmarks/bench_login.py [--logins 30] [--attempts 2000]
"""

from __future__ import annotations

import argparse
import collections
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"
_NONCE = re.compile(r'name="nonce" value="([^"]*)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, store_url: str) -> None:
    """Child process: the service with a stand-in engine, access log off."""
    from riskengine.serve.api import create_app, serve
    from riskengine.store import DecisionStore

    class Stub:
        versions = {"model_version": "stub"}

    app = create_app(Stub(), DecisionStore(store_url), ["bench-token-0123456789abcdef"])
    serve(app, "127.0.0.1", port, access_log=False, log_level="warning")


def _attempt(client: httpx.Client, user: str, password: str,
             nonce: str | None = None) -> tuple[int, float, str]:
    if nonce is None:
        page = client.get("/ui/login")
        nonce = _NONCE.search(page.text).group(1)  # type: ignore[union-attr]
    t0 = time.perf_counter()
    r = client.post("/ui/login", data={"nonce": nonce, "username": user, "password": password,
                                       "next": "/ui/search"})
    return r.status_code, time.perf_counter() - t0, nonce


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--logins", type=int, default=30)
    ap.add_argument("--attempts", type=int, default=2000)
    args = ap.parse_args()

    from riskengine.serve.accounts import HASH_PARAMETERS, LoginLimits, hash_password
    from riskengine.store import DecisionStore

    t_hash = []
    for _ in range(10):
        t0 = time.perf_counter()
        h = hash_password(PASSWORD)
        t_hash.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'store.db'}"
        store = DecisionStore(url)
        for name in ("officer.a", "officer.b", "officer.c"):
            store.add_user(name, "officer", h)
        store.close()
        port = _free_port()
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(port), url],
                                cwd=str(ROOT))
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            limits = LoginLimits()
            print(f"argon2id {HASH_PARAMETERS}; limits: {limits.account_failures} failures "
                  f"per account, {limits.address_failures} per address in "
                  f"{limits.window_s // 60} min -> locked {limits.lockout_s // 60} min")
            print(f"hash alone: p50 {np.median(t_hash) * 1e3:.1f} ms")

            times = []
            for _ in range(args.logins):
                with httpx.Client(base_url=base, timeout=30) as c:
                    status, dt_s, _ = _attempt(c, "officer.a", PASSWORD)
                    assert status == 303, status
                    times.append(dt_s)
            print(f"successful sign-in POST ({args.logins}): p50 {np.median(times) * 1e3:.1f} ms"
                  f", p90 {np.percentile(times, 90) * 1e3:.1f} ms")

            with httpx.Client(base_url=base, timeout=30) as c:
                first, _, nonce = _attempt(c, "officer.b", "a wrong password, long")
                replay = collections.Counter(
                    _attempt(c, "officer.b", f"wrong password {i:06d}", nonce)[0]
                    for i in range(args.attempts - 1))
            replay[first] += 1
            print(f"one nonce replayed {args.attempts} times: responses by status "
                  f"{dict(sorted(replay.items()))}")

            statuses = []
            t0 = time.perf_counter()
            with httpx.Client(base_url=base, timeout=30) as c:
                for i in range(args.attempts):
                    statuses.append(_attempt(c, "officer.c", f"wrong password {i:06d}")[0])
            spent = time.perf_counter() - t0
            before = statuses.index(429) if 429 in statuses else len(statuses)
            print(f"{args.attempts} wrong passwords on one account: {before} attempts "
                  f"answered before the lockout, responses by status "
                  f"{dict(sorted(collections.Counter(statuses).items()))}, "
                  f"{args.attempts / spent:.0f} attempts/s (login page + POST)")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _serve(int(sys.argv[2]), sys.argv[3])
    else:
        main()
