"""The shipped US statement model on the protocol the panel cannot flatter (issue 17 point 5).

Run: ``.venv/bin/python benchmarks/bench_us_protocol.py [--model-dir DIR] [--seeds N]``

Population: the validation split's rows with at least two earlier statements of
the same firm in the file (the panel's cut makes a firm's first rows
non-defaults, so a model that recognises "no history" is flattered on all rows,
not on these). Firms in the validation split are never in the training split.

Prints, on those rows, with stratified bootstrap 95 % intervals (1000 draws):

- the champion (``models/`` or ``--model-dir``): AUC of its PDs;
- the baseline: a plain, untuned ``HistGradientBoostingClassifier()`` (library
  defaults, ``random_state=0``) on 19 raw ratios of the current statement,
  trained on every row of the train split (the ratios hold no history, so the
  cut cannot be learnt from them), and its AUC over ``--seeds`` seeds (the
  default learner stops early on a random 10 % of the rows, so the seed moves it);
- the paired difference champion - baseline (the same bootstrap draws);
- the turnover property: share of each firm's latest statement whose PD falls
  when revenue and costs are multiplied by k with the balance sheet fixed.

The 19 raw ratios (no market value):
:func:`riskengine.modeldev.protocol.baseline_ratios` (the 16 raw items other than
total assets, each over total assets; log total assets; current assets over
current liabilities; EBIT over revenue).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from riskengine.io.artifacts import load_champion
from riskengine.io.datasets import load_us_panel, shared_data_dir
from riskengine.model.metrics import auc
from riskengine.modeldev.protocol import (
    MIN_STATEMENTS,
    panel_and_baseline,
    turnover_collapse,
)

N_BOOT = 1000


def paired_bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray,
                     seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % intervals of AUC(a), AUC(b) and AUC(a) - AUC(b) from the same stratified draws."""
    rng = np.random.default_rng(seed)
    i1, i0 = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    va, vb = np.empty(N_BOOT), np.empty(N_BOOT)
    for k in range(N_BOOT):
        t = np.concatenate([rng.choice(i1, i1.size), rng.choice(i0, i0.size)])
        va[k], vb[k] = auc(y[t], a[t]), auc(y[t], b[t])
    q = lambda v: tuple(float(x) for x in np.quantile(v, [0.025, 0.975]))  # noqa: E731
    return {"a": q(va), "b": q(vb), "diff": q(va - vb)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data not found (set RISKENGINE_SHARED_DATA)")
    path = root / "us_listed" / "firm_years.csv.gz"
    t0 = time.perf_counter()
    frame, X = panel_and_baseline(path)
    y = frame["default_12m"].to_numpy(dtype=np.int64)
    tr = frame["split"].eq("train").to_numpy()
    hist = (frame["st_n_statements"] >= MIN_STATEMENTS).to_numpy()
    rows = frame["split"].eq("validation").to_numpy() & hist
    model = load_champion(args.model_dir)
    champ = model.predict_pd(frame.loc[rows])
    with threadpool_limits(limits=1, user_api="openmp"):
        base_by_seed = []
        for seed in range(args.seeds):
            est = HistGradientBoostingClassifier(random_state=seed).fit(X[tr], y[tr])
            base_by_seed.append(est.predict_proba(X[rows])[:, 1])
    yv = y[rows]
    base = base_by_seed[0]
    ci = paired_bootstrap(yv, champ, base)
    print(f"validation rows with >= {MIN_STATEMENTS - 1} earlier statements: {rows.sum()} "
          f"rows, {yv.sum()} defaults (train rows for the baseline: {tr.sum()})")  # fmt: skip
    print(f"champion ({args.model_dir or 'models/'}): AUC {auc(yv, champ):.4f} "
          f"[{ci['a'][0]:.4f}, {ci['a'][1]:.4f}]")  # fmt: skip
    print(f"baseline HGB defaults, 19 raw ratios, seed 0: AUC {auc(yv, base):.4f} "
          f"[{ci['b'][0]:.4f}, {ci['b'][1]:.4f}]")  # fmt: skip
    seeds = [auc(yv, b) for b in base_by_seed]
    print(f"baseline over seeds 0..{args.seeds - 1}: " + ", ".join(f"{a:.4f}" for a in seeds)
          + f" (mean {np.mean(seeds):.4f})")
    print(f"champion - baseline (seed 0): {auc(yv, champ) - auc(yv, base):+.4f} "
          f"[{ci['diff'][0]:+.4f}, {ci['diff'][1]:+.4f}] (paired bootstrap)")  # fmt: skip
    factors = (0.1, 0.3, 0.5, 0.7, 0.9)
    tc = turnover_collapse(model, load_us_panel(path), factors)
    earns = tc["earns"].to_numpy()
    falls = ", ".join(f"k={k:g}: {int((tc[f'pd_{k:g}'] < tc['pd_1']).to_numpy()[earns].sum())}"
                      for k in factors)  # fmt: skip
    print(f"turnover collapse (revenue and costs x k, balance sheet fixed), latest statement "
          f"of {earns.sum()} earning firms, PDs that fall: {falls}")  # fmt: skip
    print(f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
