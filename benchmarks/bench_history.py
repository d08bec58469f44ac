"""Benchmark: a SYNTHETIC history (`demo-data --years Y`): time, size and its known truth.

Prints the seconds to generate (riskengine.synthetic.history.generate_history) and to
write it (the portfolio and truth/true_pd.parquet), the rows per table, the peak
resident memory, and per year-end of the truth: debtors at risk, the mean true 12-month
PD, the realised default rate over the following 12 months with its 95 % binomial
(Wilson) interval, and the truth's AUC on those defaults. The last year-end's 12 months
run past the as-of date, so its realised rate is cut short (marked "partial").

With ``--learn`` it also checks that the truth can be learnt from the book: the engine's
features (``build_features`` at each full year-end, the engine's point-in-time rules) of
a book of another seed train a plain gradient-boosting classifier, which is scored on
this book's snapshots; printed per year-end, its AUC against the truth's, with every
feature family and without ``conc_*`` (exposures and limits are the book as of its
as-of date, not point in time: see docs/DATA_LAYOUT.md).

Usage::

    .venv/bin/python benchmarks/bench_history.py                      # 100,000 debtors, 5 years
    .venv/bin/python benchmarks/bench_history.py --debtors 20000 --years 8 --seed 3
    .venv/bin/python benchmarks/bench_history.py --debtors 50000 --learn
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from riskengine.io.portfolio import write_portfolio, write_truth
from riskengine.synthetic import synthetic_manifest
from riskengine.synthetic.history import defaults_within_a_year, generate_history


def _peak_rss_gb() -> float:
    """Peak resident set size of this process, in GB (ru_maxrss is KiB on Linux)."""
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e9


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default="2026-06-30")
    parser.add_argument("--out", default=None, help="directory to keep (default: a temp dir)")
    parser.add_argument("--learn", action="store_true",
                        help="train on the book of seed + 1, compare with the truth's AUC")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    hist = generate_history(args.debtors, args.seed, args.as_of, args.years)
    t_gen = time.perf_counter() - t0
    rss_gen = _peak_rss_gb()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "portfolio"
        manifest = {**synthetic_manifest(args.debtors, args.seed, args.as_of),
                    "history_years": args.years}
        t0 = time.perf_counter()
        write_portfolio(hist.frames, out, manifest=manifest)
        write_truth(hist.truth, out, manifest)
        t_write = time.perf_counter() - t0
        disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

    print(f"SYNTHETIC history: {args.debtors:,} debtors, {args.years} years to {args.as_of}, "
          f"seed {args.seed}")
    print(f"generate {t_gen:7.1f} s   write {t_write:6.1f} s   on disk {disk / 1e6:8.1f} MB   "
          f"peak RSS {_peak_rss_gb():.2f} GB (after generating {rss_gen:.2f} GB)")
    for name, frame in hist.frames.items():
        print(f"  {name:<16} {len(frame):>12,} rows")
    print(f"  {'truth':<16} {len(hist.truth):>12,} rows (truth/true_pd.parquet, not a table)")

    truth = hist.truth
    label = defaults_within_a_year(truth, hist.frames["outcomes"])
    horizon = pd.Timestamp(args.as_of)
    print("year-end      at risk   mean true PD   realised rate [95% Wilson]    truth AUC")
    for t, rows in truth.groupby("as_of").indices.items():
        y = label[rows]
        k, n = int(y.sum()), y.size
        lo, hi = _wilson(k, n)
        auc = roc_auc_score(y, truth["pd_12m"].to_numpy()[rows]) if 0 < k < n else float("nan")
        part = "  partial" if t + pd.DateOffset(years=1) > horizon else ""
        print(f"{t.date()}  {n:>9,}   {truth['pd_12m'].to_numpy()[rows].mean():11.4f}   "
              f"{k / n:10.4f} [{lo:.4f}, {hi:.4f}]   {auc:9.4f}{part}")
    full = (truth["as_of"] + pd.DateOffset(years=1) <= horizon).to_numpy()
    print(f"all full years: mean true PD {truth['pd_12m'].to_numpy()[full].mean():.4f}, "
          f"realised {label[full].mean():.4f}, truth AUC "
          f"{roc_auc_score(label[full], truth['pd_12m'].to_numpy()[full]):.4f}")
    if args.learn:
        _learn(hist, args)
    return 0


def _snapshots(hist, as_of: str, rates: dict[str, float]) -> pd.DataFrame:
    """The engine's features of every truth row whose 12 months are in the book, with
    the realised label and the true PD."""
    from riskengine.features import build_features
    from riskengine.validation import validate_portfolio

    frames = validate_portfolio(hist.frames, book_as_of=as_of).frames
    label = defaults_within_a_year(hist.truth, hist.frames["outcomes"])
    parts = []
    for t, rows in hist.truth.groupby("as_of").indices.items():
        if t + pd.DateOffset(years=1) > pd.Timestamp(as_of):
            continue
        ids = hist.truth["debtor_id"].to_numpy()[rows]
        feats = build_features(frames, t, fx_rates=rates).reindex(ids)
        parts.append(feats.assign(_y=label[rows], _truth=hist.truth["pd_12m"].to_numpy()[rows],
                                  _t=t))
    return pd.concat(parts)


def _learn(hist, args: argparse.Namespace) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rates = synthetic_manifest(args.debtors, args.seed, args.as_of)["fx_rates"]
    t0 = time.perf_counter()
    other = generate_history(args.debtors, args.seed + 1, args.as_of, args.years)
    train, test = _snapshots(other, args.as_of, rates), _snapshots(hist, args.as_of, rates)
    print(f"learn: train on seed {args.seed + 1} ({len(train):,} snapshots, "
          f"{int(train['_y'].sum()):,} defaults), test on seed {args.seed} ({len(test):,}, "
          f"{int(test['_y'].sum()):,}); features in {time.perf_counter() - t0:.0f} s")
    names = [c for c in train.columns if not c.startswith("_") and train[c].nunique() > 1]
    for title, cols in (("every family", names),
                        ("without conc_", [c for c in names if not c.startswith("conc_")])):
        model = HistGradientBoostingClassifier(max_iter=400, learning_rate=0.05,
                                               min_samples_leaf=100, l2_regularization=1.0,
                                               early_stopping=True, random_state=0)
        model.fit(train[cols].to_numpy(dtype=float), train["_y"].to_numpy())
        p = model.predict_proba(test[cols].to_numpy(dtype=float))[:, 1]
        print(f"  {title} ({len(cols)} features): year-end   model AUC   truth AUC   gap")
        for t, rows in test.groupby("_t").indices.items():
            y, tr = test["_y"].to_numpy()[rows], test["_truth"].to_numpy()[rows]
            a_m, a_t = roc_auc_score(y, p[rows]), roc_auc_score(y, tr)
            print(f"    {t.date()}   {a_m:9.4f}   {a_t:9.4f}   {a_t - a_m:+.4f}")
        a_m = roc_auc_score(test["_y"], p)
        a_t = roc_auc_score(test["_y"], test["_truth"])
        print(f"    all          {a_m:9.4f}   {a_t:9.4f}   {a_t - a_m:+.4f}")


if __name__ == "__main__":
    raise SystemExit(main())
