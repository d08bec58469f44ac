"""Scoring any US-panel file with the shipped champion (shell).

``riskengine evaluate --us-panel FILE [--json] [--model-dir DIR] [--scores OUT]`` =
:func:`evaluate_command` -> :func:`evaluate_us_panel` (and :func:`write_scores`).

The file has the format of ``../shared/data/us_listed/firm_years.csv.gz``; its
``split`` column may be absent, and firms and years the model never saw are
fine: every firm-year is scored from its own statement and the firm's earlier
rows in the file (the statement pipeline), with the 12-month label built as in
``data/README.md``.

Two populations are reported: all rows, and rows with at least two earlier
statements of the same firm in the file (``hist``). The panel's cut (each
firm's last 3-5 years, the default on the last) makes a firm's first rows
non-defaults by construction, so a model that recognises "no history" is
flattered on all rows but not on ``hist`` rows (:mod:`riskengine.modeldev.protocol`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.io.artifacts import champion_money_unit, load_champion
from riskengine.model.pd_model import PDModel

__all__ = ["evaluate_us_panel", "us_panel_scores", "write_scores", "evaluate_command"]

#: Bootstrap draws of the AUC confidence intervals (stratified, seeded: reproducible).
N_BOOT = 1000
#: Extensions ``--scores`` writes, and the format of each.
SCORE_FORMATS = {".csv": "csv", ".parquet": "parquet"}


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _auc_block(y: np.ndarray, pd_: np.ndarray, suffix: str) -> dict[str, Any]:
    """AUC, its stratified bootstrap 95 % interval and the Gini of one population."""
    from riskengine.model.metrics import bootstrap_ci
    from riskengine.modeldev.evidence import _auc_nan

    a = _auc_nan(y, pd_)
    lo, hi = bootstrap_ci(y, pd_, n_boot=N_BOOT, seed=0) if math.isfinite(a) else (a, a)
    return {
        f"auc{suffix}": _finite_or_none(a),
        f"auc{suffix}_ci": [_finite_or_none(lo), _finite_or_none(hi)] if math.isfinite(a) else None,
        f"gini{suffix}": _finite_or_none(2 * a - 1),
        f"rows{suffix}": int(y.size),
        f"defaults{suffix}": int(y.sum()),
    }


def us_panel_scores(
    path: str | os.PathLike[str], model_dir: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """One row per firm-year of a US-panel file, scored by the champion.

    Returns
    -------
    pandas.DataFrame
        ``firm_id`` (str), ``fiscal_year`` (int), ``pd`` (float, anchored and
        floored as the engine uses it), ``grade`` (master scale), ``default_12m``
        (int 0/1) and ``earlier_statements`` (the firm's rows before this one in
        the file), in the file's firm and year order.
    """
    from riskengine.config import load_master_scale
    from riskengine.modeldev.protocol import us_panel_frame

    model: PDModel = load_champion(model_dir)
    frame = us_panel_frame(path, champion_money_unit(model_dir))  # in the model's unit
    pd_ = model.predict_pd(frame)
    return pd.DataFrame({
        "firm_id": frame["debtor_id"].astype("str").to_numpy(),
        "fiscal_year": frame["fiscal_year"].to_numpy(dtype=np.int64),
        "pd": pd_,
        "grade": load_master_scale().pd_to_grade(pd_),
        "default_12m": frame["default_12m"].to_numpy(dtype=np.int64),
        "earlier_statements": frame["st_n_statements"].to_numpy(dtype=np.int64) - 1,
    })  # fmt: skip


def evaluate_us_panel(
    path: str | os.PathLike[str], model_dir: str | os.PathLike[str] | None = None,
    scores: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Score every firm-year of a US-panel file with the champion and summarise.

    Parameters
    ----------
    path : path-like
        CSV(.gz) in the format of ``us_listed/firm_years.csv.gz``.
    model_dir : path-like, optional
        Directory of the champion (default :func:`riskengine.io.artifacts.default_model_dir`).
    scores : pandas.DataFrame, optional
        :func:`us_panel_scores` of the same file and model (computed when None).

    Returns
    -------
    dict
        ``auc``, ``auc_ci`` (stratified bootstrap 95 %, 1000 draws, seed 0),
        ``gini``, ``brier`` (None when the file has only one class), ``rows``,
        ``defaults``; the same AUC figures on the rows with at least two earlier
        statements of the firm in the file (``auc_hist``, ``auc_hist_ci``,
        ``gini_hist``, ``rows_hist``, ``defaults_hist``); and ``by_grade``: one
        dict per populated grade, best first, with ``grade, n, defaults,
        observed_dr, mean_pd``.

    Raises
    ------
    ModelArtifactError
        The champion is missing or fails its sha256 check.
    InvalidInputError
        The file lacks a required column.
    """
    from riskengine.model.metrics import brier_score, grade_table
    from riskengine.modeldev.protocol import MIN_STATEMENTS

    s = us_panel_scores(path, model_dir) if scores is None else scores
    pd_ = s["pd"].to_numpy(dtype=np.float64)
    y = s["default_12m"].to_numpy(dtype=np.int64)
    hist = (s["earlier_statements"] >= MIN_STATEMENTS - 1).to_numpy()
    table = grade_table(y, pd_, s["grade"].to_numpy())
    by_grade = [
        {"grade": str(g), "n": int(r["n"]), "defaults": int(r["defaults"]),
         "observed_dr": float(r["observed_dr"]), "mean_pd": float(r["mean_pd"])}
        for g, r in table.iterrows()
    ]  # fmt: skip
    out = _auc_block(y, pd_, "")
    out["brier"] = float(brier_score(y, pd_)) if y.size else None
    out.update(_auc_block(y[hist], pd_[hist], "_hist"))
    out["by_grade"] = by_grade
    return out


def scores_format(path: str | os.PathLike[str]) -> str:
    """``csv`` or ``parquet`` from the extension of ``path`` (``.csv``, ``.parquet``).

    Raises
    ------
    InvalidInputError
        Any other extension (named).
    """
    ext = Path(path).suffix.lower()
    if ext not in SCORE_FORMATS:
        raise InvalidInputError(
            f"--scores {os.fspath(path)!r}: the extension {ext or '(none)'!r} is not one of "
            f"{sorted(SCORE_FORMATS)}; name the file .csv or .parquet."
        )
    return SCORE_FORMATS[ext]


def write_scores(scores: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write :func:`us_panel_scores` as CSV or Parquet by extension (the file is
    written whole or not at all: a temporary name, then renamed)."""
    fmt = scores_format(path)
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    if fmt == "csv":
        scores.to_csv(tmp, index=False)
    else:
        scores.to_parquet(tmp, index=False)
    os.replace(tmp, target)
    return target


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _ci(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def evaluate_command(args: argparse.Namespace) -> int:
    """``riskengine evaluate --us-panel FILE [--json] [--model-dir DIR] [--scores OUT]``."""
    target = getattr(args, "scores", None)
    if target is not None:
        scores_format(target)  # a bad extension fails before any scoring
    scores = us_panel_scores(args.us_panel, getattr(args, "model_dir", None))
    out = evaluate_us_panel(args.us_panel, scores=scores)
    if target is not None:
        write_scores(scores, target)
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"rows {out['rows']}  defaults {out['defaults']}")
    print(f"AUC {_fmt(out['auc'])} {_ci(out['auc_ci'])}  Gini {_fmt(out['gini'])}  "
          f"Brier {_fmt(out['brier'])}")
    print(f"rows with >= 2 earlier statements {out['rows_hist']}  defaults "
          f"{out['defaults_hist']}  AUC {_fmt(out['auc_hist'])} {_ci(out['auc_hist_ci'])}")
    print(f"{'grade':>5} {'rows':>7} {'defaults':>8} {'observed DR':>12} {'mean PD':>9}")
    for r in out["by_grade"]:
        print(
            f"{r['grade']:>5} {r['n']:>7} {r['defaults']:>8} "
            f"{100 * r['observed_dr']:>11.2f}% {100 * r['mean_pd']:>8.2f}%"
        )
    return 0
