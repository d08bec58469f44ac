"""Training the PD model on the US panel: the job, tracking, the shipped artifact (shell).

``riskengine train`` = :func:`train_command` -> :func:`train`.

The protocol (what is fitted on which rows, the candidates and how one is
chosen) is :mod:`riskengine.modeldev.protocol`; the validation figures and the
evidence on the model card are :mod:`riskengine.modeldev.evidence`; the model
card's text is :mod:`riskengine.modeldev.model_card`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.features.statements import feature_directions
from riskengine.io.console import rfc3339
from riskengine.model.pd_model import ARTIFACT_NAME, PDModel
from riskengine.modeldev.evidence import (
    _auc_nan,
    artifact_diagnostic,
    polish_cv_auc,
    validation_figures,
)
from riskengine.modeldev.model_card import model_card
from riskengine.modeldev.protocol import (
    _LEARNER_KEYS,
    DIRECTION_CHANGES,
    EXCLUDED_FEATURES,
    HGB_GRID,
    MIN_STATEMENTS,
    fit_pd_model,
    fit_rows,
    model_directions,
    model_features,
    select_candidate,
    us_panel_frame,
)

__all__ = ["train", "train_command"]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _data_path(data_path: str | os.PathLike[str] | None) -> Path:
    if data_path is not None:
        return Path(data_path)
    from riskengine.io.datasets import shared_data_dir

    root = shared_data_dir()
    if root is None:
        raise FileNotFoundError(
            "shared data not found; pass --data FILE (a US-panel CSV) or set RISKENGINE_SHARED_DATA."
        )
    return root / "us_listed" / "firm_years.csv.gz"


def single_row_latency_ms(model: PDModel, X: pd.DataFrame, repeats: int = 200) -> float:
    """Median wall time of ``predict_pd`` on one row held as a 1-row DataFrame, in ms."""
    row = X.iloc[[0]]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_pd(row)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000.0)


def train(
    data_path: str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str] = "models",
    tracking_uri: str | None = None,
    register: bool = True,
    *,
    central_tendency: float = 0.02,
    grid: tuple[dict[str, Any], ...] = HGB_GRID,
    threads: int = 1,
    polish: bool = True,
) -> dict[str, Any]:
    """Train champion and challenger on the US panel, track, register, ship.

    Parameters
    ----------
    data_path : path-like, optional
        US-panel CSV (default ``../shared/data/us_listed/firm_years.csv.gz``).
    out_dir : path-like, default "models"
        Where ``pd_model.skops``, its metadata and ``MODEL_CARD.md`` go. They
        are written when the new model becomes champion, when ``register`` is
        False, or when ``out_dir`` holds no model yet.
    tracking_uri : str, optional
        MLflow tracking URI (default :func:`riskengine.tracking.runs.default_tracking_uri`).
    register : bool, default True
        Log the run, register the version and promote it only if better.
    central_tendency : float, default 0.02
        Long-run default rate the PDs are anchored to.
    grid : tuple of dict
        Champion hyperparameters to compare (training out-of-fold AUC).
    threads : int, default 1
        OpenMP threads of the learner (1 avoids oversubscription on a shared
        machine).
    polish : bool, default True
        Also cross-validate the champion's exact learner on the shared
        ``polish/5year.arff`` (:func:`polish_cv_auc`, about 20 s) for the
        model card; skipped (None) when False or the file is not found.

    Returns
    -------
    dict
        ``metrics`` (validation figures of the champion), ``challenger``,
        ``params``, ``grid`` (each candidate's training out-of-fold AUC and,
        for transparency, its validation AUCs), ``artifact_diagnostic``,
        ``polish`` (or None), ``data_sha256``, ``seconds``, ``artifact`` (path
        or None), ``run_id``, ``version``, ``promotion``.
    """
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    path = _data_path(data_path)
    data_hash = file_sha256(path)
    frame = us_panel_frame(path)
    if "split" not in frame.columns:
        raise ValueError(f"{path} has no split column; training needs split = train/validation.")
    feats = model_features(frame.loc[frame["split"].eq("train")])
    rows = fit_rows(frame)
    X, y, g = frame.loc[rows, feats], frame.loc[rows, "default_12m"], frame.loc[rows, "debtor_id"]
    val = frame["split"].eq("validation").to_numpy()
    yv = frame.loc[val, "default_12m"].to_numpy(dtype=np.int64)
    hv = (frame.loc[val, "st_n_statements"] >= MIN_STATEMENTS).to_numpy()
    with threadpool_limits(limits=threads, user_api="openmp"):
        candidates = []
        grid_rows = []
        for params in grid:
            m = fit_pd_model(X, y, g, central_tendency=central_tendency, **params)
            full = {k: getattr(m, k) for k in _LEARNER_KEYS}  # the setting as fitted
            candidates.append((m.oof_auc_, full, m))
            sv = m.decision_function(frame.loc[val, feats])
            grid_rows.append({"params": full, "oof_auc": m.oof_auc_, "chosen": False,
                              "val_auc": _auc_nan(yv, sv),
                              "val_auc_hist": _auc_nan(yv[hv], sv[hv])})  # fmt: skip
        pick = select_candidate([(c[0], c[1]) for c in candidates])
        best_oof, best_params, champion = candidates[pick]
        grid_rows[pick]["chosen"] = True
        challenger = fit_pd_model(X, y, g, family="logistic", central_tendency=central_tendency)
        fit_seconds = time.perf_counter() - t0
        metrics = validation_figures(champion, frame, val)
        ch_metrics = validation_figures(challenger, frame, val)
        latency = single_row_latency_ms(champion, X)
        learner = {k: getattr(champion, k) for k in _LEARNER_KEYS}
        diagnostic = artifact_diagnostic(frame, feats, learner)
        polish_fig = _polish_or_none(learner) if polish else None
    if challenger.oof_auc_ > best_oof:  # the family is chosen like the hyperparameters
        champion, challenger = challenger, champion
        metrics, ch_metrics = ch_metrics, metrics
        best_params = {"C": champion.C, "winsor": champion.winsor}
        for r in grid_rows:
            r["chosen"] = False
        polish_fig = None  # the Polish figure is that of the gradient-boosting learner
    summary: dict[str, Any] = {
        "metrics": metrics,
        "challenger": {"family": challenger.family, "oof_auc": challenger.oof_auc_, **ch_metrics},
        "params": {"family": champion.family, **best_params,
                   "central_tendency": central_tendency, "pd_floor": champion.pd_floor,
                   "calibration": champion.calibration, "cv": champion.cv},
        "grid": grid_rows,
        "artifact_diagnostic": diagnostic,
        "polish": polish_fig,
        "oof_auc": champion.oof_auc_,
        "features": feats,
        "excluded_features": EXCLUDED_FEATURES,
        "directions": {f: int(model_directions().get(f, 0)) for f in feats},
        "direction_changes": {k: {"direction": d, "statement_direction":
                                  int(feature_directions().get(k, 0)), "reason": r}
                              for k, (d, r) in DIRECTION_CHANGES.items() if k in feats},
        "train_rows": int(rows.sum()),
        "train_defaults": int(y.sum()),
        "sample_default_rate": champion.sample_default_rate_,
        "data_path": str(path),
        "data_sha256": data_hash,
        "fit_seconds": fit_seconds,
        "single_row_latency_ms": latency,
    }  # fmt: skip
    out = Path(out_dir)
    staging = out / ".staging"
    meta = _metadata(summary)
    from riskengine.io.artifacts import read_metadata, save_skops

    written = save_skops(champion, staging / ARTIFACT_NAME, meta)
    card = staging / "MODEL_CARD.md"
    # the card is a function of the metadata as written (one source: card_of_model_dir)
    card.write_text(model_card(read_metadata(staging / ARTIFACT_NAME)), encoding="utf-8")
    summary["sha256"] = written["sha256"]
    summary["size_bytes"] = written["size_bytes"]
    summary["run_id"] = summary["version"] = summary["promotion"] = None
    ship = not register or not (out / ARTIFACT_NAME).is_file()
    if register:
        from riskengine.tracking import runs as tracking

        flat = _flat_metrics(summary)
        run_id = tracking.log_training_run(
            params={k: json.dumps(v) if isinstance(v, dict | list) else v
                    for k, v in summary["params"].items()} | {"features": ",".join(feats),
                    "data_path": tracking.path_param(path), "out_dir": tracking.path_param(out)},
            metrics=flat, artifacts={"model": staging}, data_hash=data_hash,
            tags={"family": champion.family}, run_name="riskengine-train",
            tracking_uri=tracking_uri,
        )  # fmt: skip
        version = tracking.register_model_version(
            tracking.DEFAULT_MODEL_NAME, run_id, "model", val_auc=metrics["auc"],
            calibration_ok=metrics["calibration_ok"], tracking_uri=tracking_uri,
            description=f"PD model ({champion.family}), validation AUC {metrics['auc']:.4f}",
        )  # fmt: skip
        decision = tracking.promote_if_better(
            tracking.DEFAULT_MODEL_NAME,
            version,
            metrics["auc"],
            metrics["calibration_ok"],
            tracking_uri=tracking_uri,
        )
        summary.update(run_id=run_id, version=version, promotion=decision.reason)
        ship = ship or decision.promoted
    summary["artifact"] = None
    if ship:
        for name in (ARTIFACT_NAME, ARTIFACT_NAME + ".json", "MODEL_CARD.md"):
            os.replace(staging / name, out / name)
        summary["artifact"] = str(out / ARTIFACT_NAME)
    for leftover in staging.glob("*"):
        leftover.unlink()
    staging.rmdir()
    summary["seconds"] = time.perf_counter() - t0
    return summary


def _polish_or_none(params: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return polish_cv_auc(params)
    except FileNotFoundError:
        return None


def _flat_metrics(summary: dict[str, Any]) -> dict[str, float]:
    flat = {
        f"val_{k}": float(v)
        for k, v in summary["metrics"].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    flat.update({
        f"challenger_val_{k}": float(v) for k, v in summary["challenger"].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    })  # fmt: skip
    flat["train_oof_auc"] = float(summary["oof_auc"])
    if summary.get("polish"):
        flat["polish_5year_cv_auc"] = float(summary["polish"]["auc"])
    flat["fit_seconds"] = float(summary["fit_seconds"])
    flat["single_row_latency_ms"] = float(summary["single_row_latency_ms"])
    return flat


def _metadata(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("params", "grid", "artifact_diagnostic", "polish", "oof_auc", "features",
            "excluded_features", "directions", "direction_changes",
            "train_rows", "train_defaults", "sample_default_rate", "data_sha256",
            "single_row_latency_ms")  # fmt: skip
    meta = {k: summary[k] for k in keep}
    meta["metrics"] = summary["metrics"]
    meta["challenger_metrics"] = summary["challenger"]
    meta["training_data"] = Path(summary["data_path"]).name
    meta["label"] = "default_12m: 1 on the last fiscal year of a firm that later failed"
    meta["horizon_months"] = 12
    meta["created_at"] = rfc3339(datetime.now(UTC))
    meta["model"] = "riskengine.model.pd_model.PDModel"
    from riskengine.io.datasets import US_PANEL_UNIT

    # the size features are the panel's logs: the model learned them in its unit
    meta["money_unit"] = US_PANEL_UNIT.to_dict()
    return meta


def train_command(args: argparse.Namespace) -> int:
    """``riskengine train [--data] [--out] [--tracking-uri] [--no-register]``; with
    ``--portfolio DIR``: :func:`riskengine.modeldev.book_training.train_portfolio_command`."""
    from riskengine.io.console import progress, set_result

    if getattr(args, "portfolio", None):
        from riskengine.modeldev.book_training import train_portfolio_command

        return train_portfolio_command(args)
    with progress(None, "training (fit, validation, MLflow logging)", unit=""):
        s = train(
            data_path=args.data,
            out_dir=args.out or "models",
            tracking_uri=args.tracking_uri,
            register=not args.no_register,
        )
    set_result(args, s)
    m, c = s["metrics"], s["challenger"]
    print(f"champion {s['params']['family']}: train OOF AUC {s['oof_auc']:.4f}")
    print(
        f"validation: rows {m['rows']} defaults {m['defaults']} AUC {m['auc']:.4f} "
        f"Gini {m['gini']:.4f} Brier {m['brier']:.4f} | Z'' AUC {m['z2_auc']:.4f}"
    )
    print(
        f"validation, >= 2 earlier statements: rows {m['rows_hist']} AUC {m['auc_hist']:.4f} "
        f"| Z'' AUC {m['z2_auc_hist']:.4f}"
    )
    print(f"challenger {c['family']}: validation AUC {c['auc']:.4f} (hist {c['auc_hist']:.4f})")
    print(
        f"grades monotone: {m['monotone_grades']}; calibration ok: {m['calibration_ok']}; "
        f"single-row latency {s['single_row_latency_ms']:.2f} ms"
    )
    if s["polish"]:
        print(f"same learner on polish/5year, stratified 10-fold: AUC {s['polish']['auc']:.4f}")
    if s["promotion"]:
        print(f"registry: version {s['version']}: {s['promotion']}")
    print(f"artifact: {s['artifact'] or 'not shipped (not champion)'}; {s['seconds']:.1f} s")
    return 0
