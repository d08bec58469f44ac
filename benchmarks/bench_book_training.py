"""``riskengine train --portfolio`` against the generator's truth (prints figures, asserts
nothing).

Usage::

    python benchmarks/bench_book_training.py [--debtors 20000] [--years 5]
                                             [--timing-debtors 100000] [--keep DIR]

1. Writes two SYNTHETIC books with ``riskengine demo-data --years Y`` (not real data):
   seed 42 (training) and seed 7 (a fresh book, never seen in training).
2. Trains on the seed-42 book (``train --portfolio``, no MLflow) and prints its own
   out-of-time figures.
3. Scores the seed-7 book point in time at its last eligible year-end (the year after
   it lies inside the book) with the trained engine and with the prior engine (US
   champion + committee overlay), on the same debtors, and prints each one's AUC, the
   AUC of the generator's true PD (``truth/true_pd.parquet``) on the same debtors and
   labels, the gap truth - model (goal <= 0.01), the calibration slope (logistic
   regression of the outcome on logit PD; 1 is ideal) and the mean PD against the
   default rate.
4. With ``--timing-debtors N`` (0: skip): the wall time of ``train --portfolio`` on a
   seed-42 book of N debtors x Y years (demo-data's own time printed apart).

Which part of the truth the trained engine loses: ``bench_auc_decomposition.py`` on
the books and model kept with ``--keep``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _book(out: Path, n: int, seed: int, years: int) -> float:
    from riskengine.cli import main

    t = time.perf_counter()
    main(["demo-data", "--debtors", str(n), "--seed", str(seed), "--years", str(years),
          "--out", str(out)])
    return time.perf_counter() - t


def book_at_last_date(book: Path) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """A book's tables as read, its validated tables (without ``outcomes``), its
    outcomes and its last eligible year-end (the date its fresh-book figures are
    taken at)."""
    from riskengine.io.portfolio import read_portfolio
    from riskengine.modeldev.book_training import _history_start
    from riskengine.modeldev.snapshots import snapshot_dates
    from riskengine.validation import validate_portfolio

    frames, manifest = read_portfolio(book)
    as_of = manifest["as_of"]
    clean = dict(validate_portfolio(frames, reference_date=as_of, book_as_of=as_of).frames)
    outcomes = clean.pop("outcomes")
    _, t = snapshot_dates(_history_start(clean, manifest, book), as_of)
    return frames, clean, outcomes, t


def _score_fresh_book(book: Path, model_dir: Path) -> dict[str, Any]:
    """The trained and the prior engine on the fresh book at its last eligible year-end."""
    from riskengine.api import load_engine
    from riskengine.model import metrics as mt
    from riskengine.modeldev.book_training import calibration_line, validate_snapshot
    from riskengine.modeldev.snapshots import book_snapshots

    _, clean, outcomes, t = book_at_last_date(book)
    truth = pd.read_parquet(book / "truth" / "true_pd.parquet")
    truth = truth[pd.to_datetime(truth["as_of"]) == pd.Timestamp(t)]
    truth = truth.set_index(truth["debtor_id"].astype(str))["pd_12m"]
    out: dict[str, Any] = {"as_of": t}
    for name, engine in (("trained", load_engine(model_dir)), ("prior", load_engine())):
        (snap,) = book_snapshots(engine, clean, outcomes, [t])
        v = validate_snapshot(engine, snap)
        ids = pd.Index(snap.inputs.debtor_id.astype(str))
        tp = truth.reindex(ids).to_numpy(dtype=float)
        have = np.isfinite(tp)  # the truth covers debtors alive and not in default at t
        y, p = v["y"][have], v["pd"][have]
        cal = calibration_line(y, p)
        out[name] = {"rows": int(have.sum()), "not_in_truth": int((~have).sum()),
                     "defaults": int(y.sum()), "auc": mt.auc(y, p),
                     "truth_auc": mt.auc(y, tp[have]), "slope": cal["slope"],
                     "mean_pd": float(p.mean()), "default_rate": float(y.mean()),
                     "truth_mean_pd": float(tp[have].mean())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=20_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--timing-debtors", type=int, default=100_000)
    ap.add_argument("--keep", default=None, help="keep the books and model here")
    a = ap.parse_args()
    from riskengine.modeldev.book_training import train_on_book

    with tempfile.TemporaryDirectory(prefix="bench-book-training-") as tmp:
        root = Path(a.keep) if a.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        b42, b7, model = root / "book42", root / "book7", root / "model42"
        _book(b42, a.debtors, 42, a.years)
        _book(b7, a.debtors, 7, a.years)
        t = time.perf_counter()
        s = train_on_book(b42, model, log_run=False, n_boot=200)
        secs = time.perf_counter() - t
        f = s["fit"]
        v, pv = s["validation"], s["prior_validation"]
        print(f"\ntrain --portfolio, seed 42, {a.debtors:,} debtors x {a.years} years: "
              f"{secs:.1f} s; training {', '.join(s['dates']['train'])} "
              f"({f.facts['rows']:,} rows, {f.facts['events']:,} defaults), statement "
              f"component {f.statement_method}")
        print(f"  own held-out {s['dates']['validation']}: AUC {v['auc']:.4f} (prior "
              f"{pv['auc']:.4f}); mean PD {v['mean_pd']:.4f} vs default rate "
              f"{v['default_rate']:.4f}; calibration slope {v['calibration_slope']:.3f}")
        r = _score_fresh_book(b7, model)
        print(f"fresh book seed 7, scored point in time at {r['as_of']} (defaults in the "
              "following 12 months):")
        for name in ("trained", "prior"):
            x = r[name]
            print(f"  {name:8s} rows {x['rows']:,} defaults {x['defaults']:,}: AUC "
                  f"{x['auc']:.4f} | truth AUC {x['truth_auc']:.4f} | gap "
                  f"{x['truth_auc'] - x['auc']:+.4f} | calibration slope {x['slope']:.3f} | "
                  f"mean PD {x['mean_pd']:.4f} vs default rate {x['default_rate']:.4f} "
                  f"(truth mean PD {x['truth_mean_pd']:.4f}; {x['not_in_truth']} scored "
                  "debtors outside the truth)")
        if a.timing_debtors:
            big = root / "book42_timing"
            gen = _book(big, a.timing_debtors, 42, a.years)
            t = time.perf_counter()
            s = train_on_book(big, root / "model_timing", log_run=False, n_boot=200)
            secs = time.perf_counter() - t
            print(f"\ntrain --portfolio wall time, {a.timing_debtors:,} debtors x {a.years} "
                  f"years ({s['fit'].facts['rows']:,} training rows, statement component "
                  f"{s['fit'].statement_method}): {secs:.1f} s (demo-data {gen:.1f} s)")


if __name__ == "__main__":
    main()
