"""Scoring any US-panel file with the shipped champion (shell).

``riskengine evaluate --us-panel FILE [--json] [--model-dir DIR]`` =
:func:`evaluate_command` -> :func:`evaluate_us_panel`.

The file has the format of ``../shared/data/us_listed/firm_years.csv.gz``; its
``split`` column may be absent, and firms and years the model never saw are
fine: every firm-year is scored from its own statement and the firm's earlier
rows in the file (the statement pipeline), with the 12-month label built as in
``data/README.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any

import numpy as np

from riskengine.io.artifacts import load_champion
from riskengine.model.pd_model import PDModel

__all__ = ["evaluate_us_panel", "evaluate_command"]

def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def evaluate_us_panel(
    path: str | os.PathLike[str], model_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Score every firm-year of a US-panel file with the champion and summarise.

    Parameters
    ----------
    path : path-like
        CSV(.gz) in the format of ``us_listed/firm_years.csv.gz``.
    model_dir : path-like, optional
        Directory of the champion (default :func:`riskengine.io.artifacts.default_model_dir`).

    Returns
    -------
    dict
        ``auc``, ``gini``, ``brier`` (None when the file has only one class),
        ``rows``, ``defaults`` and ``by_grade``: one dict per populated grade,
        best first, with ``grade, n, defaults, observed_dr, mean_pd``.

    Raises
    ------
    ModelArtifactError
        The champion is missing or fails its sha256 check.
    InvalidInputError
        The file lacks a required column.
    """
    from riskengine.config import load_master_scale
    from riskengine.model.metrics import brier_score, grade_table
    from riskengine.modeldev.evidence import _auc_nan
    from riskengine.modeldev.protocol import us_panel_frame

    model: PDModel = load_champion(model_dir)
    frame = us_panel_frame(path)
    pd_ = model.predict_pd(frame)
    y = frame["default_12m"].to_numpy(dtype=np.int64)
    grades = load_master_scale().pd_to_grade(pd_)
    table = grade_table(y, pd_, grades)
    auc = _auc_nan(y, pd_)
    by_grade = [
        {"grade": str(g), "n": int(r["n"]), "defaults": int(r["defaults"]),
         "observed_dr": float(r["observed_dr"]), "mean_pd": float(r["mean_pd"])}
        for g, r in table.iterrows()
    ]  # fmt: skip
    return {
        "auc": _finite_or_none(auc),
        "gini": _finite_or_none(2 * auc - 1),
        "brier": float(brier_score(y, pd_)) if y.size else None,
        "rows": int(y.size),
        "defaults": int(y.sum()),
        "by_grade": by_grade,
    }


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def evaluate_command(args: argparse.Namespace) -> int:
    """``riskengine evaluate --us-panel FILE [--json] [--model-dir DIR]``."""
    out = evaluate_us_panel(args.us_panel, getattr(args, "model_dir", None))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"rows {out['rows']}  defaults {out['defaults']}")
    print(f"AUC {_fmt(out['auc'])}  Gini {_fmt(out['gini'])}  Brier {_fmt(out['brier'])}")
    print(f"{'grade':>5} {'rows':>7} {'defaults':>8} {'observed DR':>12} {'mean PD':>9}")
    for r in out["by_grade"]:
        print(
            f"{r['grade']:>5} {r['n']:>7} {r['defaults']:>8} "
            f"{100 * r['observed_dr']:>11.2f}% {100 * r['mean_pd']:>8.2f}%"
        )
    return 0
