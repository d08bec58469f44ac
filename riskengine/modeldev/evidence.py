"""What a training run measures besides fitting: validation figures and the model card's evidence.

:func:`validation_figures` (AUC, Gini, Brier, Altman Z'' benchmark, grade table,
monotonicity and calibration tests on the validation split),
:func:`artifact_diagnostic` (the panel-artifact evidence for the training-row
rule) and :func:`polish_cv_auc` (the champion's learner on the Polish data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.model.pd_model import PDModel
from riskengine.modeldev.protocol import _LEARNER_KEYS, MIN_STATEMENTS, model_directions

__all__ = ["altman_z2", "validation_figures", "polish_cv_auc", "artifact_diagnostic"]


def altman_z2(frame: pd.DataFrame) -> np.ndarray:
    """Altman Z'' of each row (unfitted; lower = riskier), from the statement pipeline."""
    return frame["st_altman_z2"].to_numpy(dtype=float)


def _auc_nan(y: np.ndarray, score: np.ndarray) -> float:
    from riskengine.model.metrics import auc

    ok = np.isfinite(score)
    yy = y[ok]
    if yy.size == 0 or yy.min() == yy.max():
        return float("nan")
    return float(auc(yy, score[ok]))


def validation_figures(model: PDModel, frame: pd.DataFrame, rows: np.ndarray) -> dict[str, Any]:
    """AUC, Gini, Brier, Z'' benchmark, grade table and tests of ``model`` on ``rows``.

    Two populations are reported: all ``rows``, and those with two earlier
    statements (``hist``) where the panel's construction cannot favour any
    model. The grade table and the monotonicity test use all rows and the
    anchored PDs a user sees; the calibration (Jeffreys) check uses the
    ``hist`` rows and the PDs before anchoring (anchoring moves PDs to the
    book's central tendency on purpose, away from this sample's rate).
    """
    from riskengine.config import load_master_scale
    from riskengine.model.metrics import brier_score, grade_table, monotonicity_test

    sub = frame.loc[rows]
    X = sub[list(model.feature_names_in_)]
    y = sub["default_12m"].to_numpy(dtype=np.int64)
    hist = (sub["st_n_statements"] >= MIN_STATEMENTS).to_numpy()
    pd_ = model.predict_pd(X)
    raw = model.predict_pd(X, anchor=False)
    z = -altman_z2(sub)
    out: dict[str, Any] = {
        "rows": int(y.size),
        "defaults": int(y.sum()),
        "auc": _auc_nan(y, pd_),
        "brier": float(brier_score(y, pd_)),
        "auc_hist": _auc_nan(y[hist], pd_[hist]),
        "rows_hist": int(hist.sum()),
        "defaults_hist": int(y[hist].sum()),
        "z2_auc": _auc_nan(y, z),
        "z2_auc_hist": _auc_nan(y[hist], z[hist]),
        "mean_pd": float(pd_.mean()),
    }
    out["gini"] = 2 * out["auc"] - 1
    out["gini_hist"] = 2 * out["auc_hist"] - 1
    out["auc_gain_over_z2"] = out["auc"] - out["z2_auc"]
    out["auc_gain_over_z2_hist"] = out["auc_hist"] - out["z2_auc_hist"]
    scale = load_master_scale()
    grades = scale.pd_to_grade(pd_)
    table = grade_table(y, pd_, grades)
    mono = monotonicity_test(table)
    out["by_grade"] = _table_records(table)
    out["monotone_grades"] = bool(mono.passed)
    out["grade_point_inversions"] = int(mono.n_point_inversions)
    out["grade_significant_inversions"] = int(mono.n_significant)
    cal = grade_table(y[hist], raw[hist], scale.pd_to_grade(raw[hist]))
    out["calibration_by_grade"] = _table_records(cal)
    out["calibration_red_grades"] = int((cal["light"] == "red").sum())
    out["calibration_ok"] = out["calibration_red_grades"] == 0
    return out


def _table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    recs = []
    for grade, r in table.iterrows():
        recs.append({
            "grade": str(grade), "n": int(r["n"]), "defaults": int(r["defaults"]),
            "observed_dr": float(r["observed_dr"]), "mean_pd": float(r["mean_pd"]),
            "light": str(r["light"]),
        })  # fmt: skip
    return recs


def polish_cv_auc(params: dict[str, Any], n_splits: int = 10, seed: int = 0) -> dict[str, Any]:
    """The champion's learner on ``polish/5year.arff``: stratified k-fold AUC (issue 3 §6).

    The gradient-boosting learner with exactly the champion's hyperparameters
    (the ``max_iter`` … ``l2_regularization`` keys of ``params``), without
    monotone constraints (the 64 Polish ratios have no declared directions),
    NaN routed natively. The data has no firm ids or years, so random
    stratified folds are the only protocol.

    Parameters
    ----------
    params : dict
        Hyperparameters; keys other than the learner's are ignored.
    n_splits : int, default 10
    seed : int, default 0
        Fold shuffling and learner seed.

    Returns
    -------
    dict
        ``auc`` (mean over folds), ``auc_sd``, ``folds``, ``rows``, ``defaults``
        and ``params`` (the learner hyperparameters used).

    Raises
    ------
    FileNotFoundError
        The shared Polish file is not found.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    from riskengine.io.datasets import load_polish
    from riskengine.model.metrics import auc

    X, y = load_polish("5year")
    hp = {k: params[k] for k in _LEARNER_KEYS if k in params}
    A, yy = X.to_numpy(dtype=float), y.to_numpy()
    aucs = []
    for tr, te in StratifiedKFold(n_splits, shuffle=True, random_state=seed).split(A, yy):
        est = HistGradientBoostingClassifier(**hp, early_stopping=False, random_state=seed)
        est.fit(A[tr], yy[tr])
        aucs.append(float(auc(yy[te], est.predict_proba(A[te])[:, 1])))
    return {"auc": float(np.mean(aucs)), "auc_sd": float(np.std(aucs)), "folds": n_splits,
            "rows": int(yy.size), "defaults": int(yy.sum()), "params": hp}  # fmt: skip


def artifact_diagnostic(
    frame: pd.DataFrame, feats: list[str], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """Evidence for the training-row rule: the same learner fitted on *all* training rows.

    Fits the champion's learner (same hyperparameters and monotone
    constraints, no history fill, so missing lags stay NaN) on three row and
    feature sets and scores the validation split. The all-rows fits gain on
    all validation rows but not on rows with two earlier statements: the gain
    comes from "no earlier statement, never a default", an artifact of how the
    panel was cut (each firm's last 3-5 years), not from risk.

    Returns
    -------
    list of dict
        Per setting: ``setting``, ``train_rows``, ``val_auc`` (all validation
        rows) and ``val_auc_hist`` (validation rows with two earlier statements).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    dirs = model_directions()
    hp = {k: params[k] for k in _LEARNER_KEYS if k in params}
    y = frame["default_12m"].to_numpy(dtype=np.int64)
    tr = frame["split"].eq("train").to_numpy()
    va = frame["split"].eq("validation").to_numpy()
    hist = (frame["st_n_statements"] >= MIN_STATEMENTS).to_numpy()
    out = []
    for setting, cols, rows in (
        ("all training rows, missing lags as NaN, with st_n_statements",
         [*feats, "st_n_statements"], tr),
        ("all training rows, missing lags as NaN", feats, tr),
        ("protocol rows (>= 2 earlier statements)", feats, tr & hist),
    ):  # fmt: skip
        est = HistGradientBoostingClassifier(
            **hp, monotonic_cst=[dirs.get(c, 0) for c in cols], early_stopping=False,
            random_state=0,
        )  # fmt: skip
        est.fit(frame.loc[rows, cols].to_numpy(dtype=float), y[rows])
        s = est.decision_function(frame.loc[va, cols].to_numpy(dtype=float))
        yv, hv = y[va], hist[va]
        out.append({"setting": setting, "train_rows": int(rows.sum()),
                    "val_auc": _auc_nan(yv, s), "val_auc_hist": _auc_nan(yv[hv], s[hv])})  # fmt: skip
    return out
