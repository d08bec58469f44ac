"""Benchmark of the PD model: training time, issue-3 §6 figures, scoring latency.

Run: ``.venv/bin/python benchmarks/bench_train.py [--skip-train] [--skip-polish]``

Prints
- ``riskengine train`` end to end (no registry; into a temporary directory):
  wall time, validation AUC/Gini/Brier on all rows and on rows with two earlier
  statements, Altman Z'' on the same rows, grade monotonicity;
- the panel artifact diagnostic: the same learner fitted on *all* training rows
  (first rows of each firm included), to show how much of an all-rows AUC comes
  from the panel's construction (first two rows of a firm are never defaults);
- the same learner on ``polish/5year.arff``, stratified 10-fold CV AUC;
- single-row and batch scoring latency of the shipped champion (``models/``).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from riskengine.features.statements import feature_directions
from riskengine.io.datasets import load_polish
from riskengine.modeldev.protocol import HGB_GRID, model_features, us_panel_frame
from riskengine.modeldev.training import train


def bench_train() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        s = train(out_dir=tmp, register=False)
        wall = time.perf_counter() - t
    m, c = s["metrics"], s["challenger"]
    print(f"train end to end: {wall:.1f} s (fits {s['fit_seconds']:.1f} s); chosen {s['params']}")
    print(f"  validation all rows: n={m['rows']} d={m['defaults']} AUC {m['auc']:.4f} "
          f"Gini {m['gini']:.4f} Brier {m['brier']:.4f}; Z'' AUC {m['z2_auc']:.4f} "
          f"(gain {m['auc_gain_over_z2']:+.4f})")  # fmt: skip
    print(f"  validation >=2 earlier statements: n={m['rows_hist']} d={m['defaults_hist']} "
          f"AUC {m['auc_hist']:.4f}; Z'' AUC {m['z2_auc_hist']:.4f} "
          f"(gain {m['auc_gain_over_z2_hist']:+.4f})")  # fmt: skip
    print(f"  challenger {c['family']}: OOF {c['oof_auc']:.4f} val AUC {c['auc']:.4f} "
          f"hist {c['auc_hist']:.4f}")  # fmt: skip
    print(f"  grades monotone: {m['monotone_grades']} ({m['grade_point_inversions']} point "
          f"inversions, {m['grade_significant_inversions']} significant); calibration ok "
          f"{m['calibration_ok']}")  # fmt: skip
    for g in m["by_grade"]:
        print(f"    grade {g['grade']:>2}: n={g['n']:5d} d={g['defaults']:3d} "
              f"obs {100 * g['observed_dr']:6.2f}% mean PD {100 * g['mean_pd']:6.2f}%")  # fmt: skip


def bench_artifact_diagnostic() -> None:
    frame = us_panel_frame()
    feats = model_features(frame)
    tr = frame["split"].eq("train").to_numpy()
    va = frame["split"].eq("validation").to_numpy()
    hist = (frame["st_n_statements"] >= 3).to_numpy()
    dirs = feature_directions()
    y = frame["default_12m"].to_numpy()
    params = {k: v for k, v in HGB_GRID[0].items()}
    with threadpool_limits(1, user_api="openmp"):
        for name, cols, rows in (
            ("all train rows, NaN lags + n_statements", [*feats, "st_n_statements"], tr),
            ("all train rows, NaN lags", feats, tr),
            ("protocol rows (>=2 earlier statements)", feats, tr & hist),
        ):
            cst = [dirs.get(f, 0) for f in cols]
            est = HistGradientBoostingClassifier(**params, monotonic_cst=cst, early_stopping=False,
                                                 random_state=0)  # fmt: skip
            est.fit(frame.loc[rows, cols], y[rows])
            p = est.predict_proba(frame.loc[va, cols])[:, 1]
            yv, hv = y[va], hist[va]
            print(f"  diagnostic {name:42s}: val AUC all {roc_auc_score(yv, p):.4f} "
                  f">=2 earlier {roc_auc_score(yv[hv], p[hv]):.4f}")  # fmt: skip


def bench_polish() -> None:
    """The champion's learner on polish/5year.arff: its exact hyperparameters and each grid point.

    No monotone constraints (the 64 ratios have no declared directions). Printed for every
    grid point so the figure is not one cherry-picked configuration.
    """
    from riskengine.io.artifacts import load_champion

    X, y = load_polish("5year")
    champ = load_champion().get_params()
    keys = ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
    configs = [("shipped champion", {k: champ[k] for k in keys})]
    configs += [(f"grid point {i}", dict(g)) for i, g in enumerate(HGB_GRID)]
    folds = list(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y))
    for label, params in configs:
        aucs = []
        t = time.perf_counter()
        with threadpool_limits(1, user_api="openmp"):
            for tr, te in folds:
                est = HistGradientBoostingClassifier(**params, early_stopping=False, random_state=0)
                est.fit(X.iloc[tr], y.iloc[tr])
                aucs.append(roc_auc_score(y.iloc[te], est.predict_proba(X.iloc[te])[:, 1]))
        print(
            f"polish 5year, {label} {params}, stratified 10-fold: AUC "
            f"{np.mean(aucs):.4f} ± {np.std(aucs):.4f} ({time.perf_counter() - t:.1f} s)"
        )


def bench_latency() -> None:
    from riskengine.io.artifacts import load_champion
    from riskengine.model.explain import reason_codes

    model = load_champion()
    frame = us_panel_frame()
    X = frame[list(model.feature_names_in_)]
    A = X.to_numpy()
    with threadpool_limits(1, user_api="openmp"):
        for label, call in (
            ("predict_pd, 1-row DataFrame", lambda i: model.predict_pd(X.iloc[[i]])),
            ("learner only, 1-row ndarray", lambda i: model.estimator_.predict_proba(A[i : i + 1])),
            ("reason_codes, 1 row", lambda i: reason_codes(model, X.iloc[[i]])),
        ):
            times = []
            for i in range(300):
                t = time.perf_counter()
                call(i)
                times.append(time.perf_counter() - t)
            print(f"  {label:30s}: median {1000 * np.median(times):.3f} ms, "
                  f"p95 {1000 * np.quantile(times, 0.95):.3f} ms")  # fmt: skip
        t = time.perf_counter()
        model.predict_pd(X)
        dt = time.perf_counter() - t
        print(f"  batch predict_pd: {len(X)} rows in {dt:.3f} s ({len(X) / dt:,.0f} rows/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--skip-polish", action="store_true")
    args = ap.parse_args()
    if not args.skip_train:
        bench_train()
        bench_artifact_diagnostic()
    if not args.skip_polish:  # no monotone constraints: the 64 ratios have no declared directions
        bench_polish()
    print("scoring latency of the shipped champion (1 OpenMP thread):")
    bench_latency()


if __name__ == "__main__":
    main()
