"""``riskengine train --portfolio``: the engine's PD fitted on a book's own outcomes (shell).

:func:`train_on_book` reads a portfolio directory with its ``outcomes`` table, builds
point-in-time snapshots at year-ends (:mod:`riskengine.modeldev.snapshots`), fits the
statement component and the overlay weights (:mod:`riskengine.modeldev.book_model`),
validates the engine so fitted on the last eligible year-end held out (the report of
``riskengine validate``, :func:`riskengine.modeldev.report.write_validation_report`),
and writes a model directory::

    pd_model.skops, pd_model.skops.json   the PD model (load_champion reads it)
    overlay.toml                          the fitted overlay (load_engine reads it)
    MODEL_CARD.md                         method, shrinkage, data, figures
    validation/                           report.html, metrics.json, plots

then logs the run to MLflow and registers the directory as a version of
:data:`BOOK_MODEL_NAME` (``--no-register``: the run is logged, nothing registered).
``rerate``, ``serve``, ``score``, ``report`` and ``publish`` take the directory with
``--model-dir``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.io.console import rfc3339
from riskengine.modeldev.book_model import BookFit, fit_book_model, stack_snapshots
from riskengine.modeldev.glm import fit_logistic
from riskengine.modeldev.snapshots import FREQUENCIES, Snapshot, book_snapshots, snapshot_dates

__all__ = ["BOOK_MODEL_NAME", "train_on_book", "validate_snapshot", "train_portfolio_command"]

#: The registered model of book-trained engines (the US champion is ``riskengine-pd``).
BOOK_MODEL_NAME = "riskengine-pd-book"


def _require_outcomes(root: Path, manifest: Mapping[str, Any]) -> None:
    """Refuse a book without an ``outcomes`` table (no table: defaults not recorded)."""
    from riskengine.io.portfolio import table_file

    if table_file(root, "outcomes", manifest) is None:
        raise InvalidInputError(
            f"portfolio {root} has no outcomes table (outcomes.parquet or .csv): training "
            "on a book needs its observed defaults (debtor_id, default_date, default_type).")


def _refuse_bad_outcomes(errors: pd.DataFrame) -> None:
    """An invalid outcome would change the labels silently: refused, with the validation's
    own message (record, field, value) and the error rows."""
    bad = errors[errors["table"].astype(str) == "outcomes"]
    if len(bad):
        first = bad.iloc[0]
        more = f" ({len(bad)} outcome problems in all)" if len(bad) > 1 else ""
        raise InvalidInputError(f"{first['message']}{more}",
                                bad.to_dict(orient="records"))


def _history_start(clean: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any],
                   root: Path) -> Any:
    """Where the book's observed outcomes begin: ``history_years`` before its as_of when
    the manifest says how many years of history (and so of outcomes) it holds, else its
    first invoice (the factor's own history starts there)."""
    from riskengine.contracts.dates import parse_date

    years = manifest.get("history_years")
    if years:
        end = parse_date(manifest["as_of"])
        try:
            return end.replace(year=end.year - int(years))
        except ValueError:  # 29 February
            return end.replace(year=end.year - int(years), day=28)
    issued = clean["invoices"]["issue_date"]
    if issued.empty:
        raise InvalidInputError(f"portfolio {root}: no invoices and no history_years in "
                                "the manifest; the book's history starts with its first "
                                "invoice.")
    return issued.min().date()


def validate_snapshot(engine: Any, snap: Snapshot) -> dict[str, Any]:
    """The engine's PDs and grades of a snapshot (the core's own rating steps).

    Returns
    -------
    dict
        ``pd``, ``grade`` (arrays, one per debtor of the snapshot) and ``y``.
    """
    from riskengine.scoring.core import _ratings

    out = _ratings(engine, snap.inputs, engine._scorer)
    return {"pd": np.asarray(out[5], dtype=np.float64), "grade": np.asarray(out[6]),
            "y": snap.label.astype(np.int64)}


def calibration_line(y: Any, pd_: Any) -> dict[str, float]:
    """Calibration intercept and slope: ``logit P(y) = a + b logit(PD)`` (ideal 0, 1)."""
    from riskengine.model.calibration import logit

    fit = fit_logistic(logit(np.asarray(pd_, dtype=float))[:, None], y)
    return {"intercept": fit.intercept, "slope": float(fit.coef[0]),
            "slope_se": float(fit.se[0])}


def _prior_engine(model_dir: Any) -> Any:
    """The prior: the model directory's PD model (default the shipped champion) with the
    committee's overlay (the shipped ``overlay.toml``, even when the directory has its
    own: the priors are centred on the committee's weights)."""
    from riskengine.api import load_engine, load_overlay
    from riskengine.scoring.engine import Engine

    engine = load_engine(model_dir)
    committee = load_overlay()
    if engine.overlay == committee:
        return engine
    return Engine(engine.pd_model, engine.master_scale, engine.policy, overlay=committee,
                  model_version=engine.model_version, default_product=engine.default_product,
                  money_unit=engine.money_unit)


def _engine_with(prior: Any, fit: BookFit) -> Any:
    from riskengine.scoring.engine import Engine

    return Engine(fit.model, prior.master_scale, prior.policy, overlay=fit.overlay,
                  model_version="pd_model@book", default_product=prior.default_product,
                  money_unit=prior.money_unit)


def _book_hash(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(root.iterdir()):
        if f.is_file() and f.suffix in (".parquet", ".csv", ".json"):
            h.update(f.name.encode())
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def train_on_book(portfolio: str | Path, out_dir: str | Path, *,
                  tracking_uri: str | None = None, register: bool = True,
                  frequency: str = "annual", prior_model_dir: Any = None,
                  n_boot: int = 1000, random_state: int = 0,
                  events_per_feature: int | None = None,
                  log_run: bool = True) -> dict[str, Any]:
    """Fit the engine's PD on a book's outcomes, validate out of time, write a model dir.

    Parameters
    ----------
    portfolio : path
        Portfolio directory with ``outcomes`` and a manifest ``as_of``.
    out_dir : path
        The model directory written (created; its files of the same names replaced).
    tracking_uri : str, optional
        MLflow tracking URI (default the project's store).
    register : bool, default True
        Register the directory as a version of :data:`BOOK_MODEL_NAME`.
    frequency : {"annual", "quarterly"}
        Training snapshot dates (the validation date is always the last year-end).
    prior_model_dir : path, optional
        The prior's PD model directory (default the shipped champion); the prior
        overlay is always the committee's (the shipped ``overlay.toml``).
    n_boot : int
        Bootstrap draws of the AUC confidence interval.
    random_state : int
    events_per_feature : int, optional
        The refit threshold (default
        :data:`riskengine.modeldev.book_model.EVENTS_PER_FEATURE`).
    log_run : bool, default True
        False: no MLflow at all (tests of the model directory alone).

    Returns
    -------
    dict
        ``fit`` (BookFit), ``validation`` and ``prior_validation`` (figures of the
        held-out year), ``dates``, ``out_dir``, ``run_id``, ``version``, ``seconds``.
    """
    from riskengine.io.portfolio import read_portfolio
    from riskengine.validation import validate_portfolio

    t0 = time.perf_counter()
    root = Path(portfolio)
    frames, manifest = read_portfolio(root)
    if not manifest.get("as_of"):
        raise InvalidInputError(f"portfolio {root}: manifest.json has no as_of; the book's "
                                "as-of date bounds its outcomes and snapshots.")
    as_of = str(manifest["as_of"])
    _require_outcomes(root, manifest)
    vp = validate_portfolio(frames, reference_date=as_of, book_as_of=as_of)
    _refuse_bad_outcomes(vp.errors)
    clean = dict(vp.frames)
    outcomes = clean.pop("outcomes")
    train_dates, oot_date = snapshot_dates(_history_start(clean, manifest, root), as_of,
                                           frequency)
    prior = _prior_engine(prior_model_dir)
    snaps = book_snapshots(prior, clean, outcomes, [*train_dates, oot_date])
    train_snaps, oot = snaps[:-1], snaps[-1]
    rows = stack_snapshots(train_snaps)
    data = (f"book {manifest.get('name') or root.name} (as_of {as_of}): snapshots "
            f"{train_dates[0]} .. {train_dates[-1]} ({frequency}), {len(rows.label)} "
            f"debtor-dates, {rows.n_events} defaults within 12 months")
    epv = {} if events_per_feature is None else {"events_per_feature": events_per_feature}
    fit = fit_book_model(prior.pd_model, prior.overlay, rows, data=data, as_of=as_of,
                         random_state=random_state, **epv)
    engine = _engine_with(prior, fit)
    val = validate_snapshot(engine, oot)
    prior_val = validate_snapshot(prior, oot)
    train_pd = validate_snapshot(engine, Snapshot(
        "train", rows.inputs, rows.label, {}))["pd"]
    figures = _figures(val, prior_val, n_boot)
    summary: dict[str, Any] = {
        "fit": fit, "validation": figures["book"], "prior_validation": figures["prior"],
        "dates": {"train": train_dates, "validation": oot_date, "frequency": frequency},
        "snapshots": [{"as_of": s.as_of, "debtors": len(s.label), "defaults": s.n_events,
                       **s.excluded} for s in snaps],
        "rejected_debtors": len(vp.rejected_debtors), "book_as_of": as_of,
        "portfolio": str(root), "data_sha256": _book_hash(root),
        "fit_seconds": time.perf_counter() - t0}
    out = Path(out_dir)
    _write_model_dir(out, summary, val, train_pd, prior, n_boot)
    summary["out_dir"] = str(out)
    summary["run_id"] = summary["version"] = None
    if log_run:
        summary["run_id"], summary["version"] = _track(out, summary, tracking_uri, register)
    summary["seconds"] = time.perf_counter() - t0
    return summary


def _figures(val: Mapping[str, Any], prior_val: Mapping[str, Any], n_boot: int
             ) -> dict[str, dict[str, Any]]:
    from riskengine.model import metrics as mt

    out = {}
    for name, v in (("book", val), ("prior", prior_val)):
        y, p = v["y"], v["pd"]
        two = 0 < int(y.sum()) < y.size
        d = mt.discrimination(y, p, n_boot=n_boot, seed=0) if two else {}
        out[name] = {"rows": int(y.size), "defaults": int(y.sum()),
                     "auc": d.get("auc", float("nan")), "auc_lo": d.get("auc_lo", float("nan")),
                     "auc_hi": d.get("auc_hi", float("nan")),
                     "mean_pd": float(p.mean()) if p.size else float("nan"),
                     "default_rate": float(y.mean()) if y.size else float("nan"),
                     **({f"calibration_{k}": v2 for k, v2 in calibration_line(y, p).items()}
                        if two else {})}
    return out


def _write_model_dir(out: Path, summary: dict[str, Any], val: Mapping[str, Any],
                     train_pd: Any, prior: Any, n_boot: int) -> None:
    import tomli_w

    from riskengine.io.artifacts import save_skops
    from riskengine.model.pd_model import ARTIFACT_NAME
    from riskengine.modeldev.book_card import book_model_card
    from riskengine.modeldev.report import write_validation_report

    fit: BookFit = summary["fit"]
    out.mkdir(parents=True, exist_ok=True)
    meta = {"created_at": rfc3339(datetime.now(UTC)),
            "model": "riskengine.model.pd_model.PDModel",
            "trained_on": "book", "statement_method": fit.statement_method,
            "features": list(fit.model.feature_names_in_), "horizon_months": 12,
            "label": "an outcome (CRR art. 178 default) within 12 months of the snapshot",
            "data_sha256": summary["data_sha256"], "book_as_of": summary["book_as_of"],
            "dates": summary["dates"], "facts": fit.facts,
            "validation": summary["validation"],
            "prior_validation": summary["prior_validation"],
            "overlay_version": fit.overlay.version,
            # the snapshots' size features are in the prior's unit (the same function as
            # every decision: riskengine.features.units.size_in_unit), so the fit learned them
            # in it: the model declares it (docs/TRAINING.md "Money unit")
            "money_unit": prior.money_unit.to_dict()}
    save_skops(fit.model, out / ARTIFACT_NAME, json.loads(json.dumps(meta, default=_plain)))
    (out / "overlay.toml").write_text(
        "# Fitted by riskengine train --portfolio; see MODEL_CARD.md.\n"
        + tomli_w.dumps(_toml_safe(fit.overlay.to_dict())), encoding="utf-8")
    y, p = val["y"], val["pd"]
    summary["report"] = None
    if 0 < int(y.sum()) < y.size:
        write_validation_report(
            out / "validation", y=y, pd_=p, grades=val["grade"], train_pd=train_pd,
            scale=prior.master_scale, n_boot=n_boot, log_to_mlflow=False,
            title="riskengine PD fitted on the book: out-of-time validation",
            info={"validation date": summary["dates"]["validation"],
                  "statement component": fit.statement_method,
                  "overlay": fit.overlay.version})
        summary["report"] = json.loads((out / "validation" / "metrics.json").read_text())
    (out / "MODEL_CARD.md").write_text(book_model_card(summary), encoding="utf-8")


def _toml_safe(doc: Any) -> Any:
    """The overlay's TOML layout without infinite caps (TOML has ``inf``, but an absent
    cap reads back as inf and keeps the file plain)."""
    if isinstance(doc, dict):
        return {k: _toml_safe(v) for k, v in doc.items()
                if not (k == "cap" and isinstance(v, float) and np.isinf(v))}
    return doc


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def _track(out: Path, summary: dict[str, Any], tracking_uri: str | None, register: bool
           ) -> tuple[str, str | None]:
    from riskengine.tracking import runs as tracking

    fit: BookFit = summary["fit"]
    v, pv = summary["validation"], summary["prior_validation"]
    metrics = {f"val_{k}": float(x) for k, x in v.items() if isinstance(x, int | float)}
    metrics |= {f"prior_val_{k}": float(x) for k, x in pv.items()
                if isinstance(x, int | float)}
    metrics["fit_seconds"] = float(summary["fit_seconds"])
    rep = summary.get("report") or {}
    params = {"statement_method": fit.statement_method,
              "frequency": summary["dates"]["frequency"],
              "train_dates": ",".join(summary["dates"]["train"]),
              "validation_date": summary["dates"]["validation"],
              "prior_sd": fit.facts.get("prior_sd"), "book_as_of": summary["book_as_of"],
              "overlay": json.dumps({t.feature: t.weight for t in fit.overlay.terms}),
              "portfolio": tracking.path_param(summary["portfolio"]),
              "model_dir": tracking.path_param(out)}
    run_id = tracking.log_training_run(
        params=params, metrics=metrics, artifacts={"model": out},
        data_hash=summary["data_sha256"], tags={"trained_on": "book"},
        run_name="riskengine-train-portfolio", tracking_uri=tracking_uri)
    version = None
    if register:
        version = tracking.register_model_version(
            BOOK_MODEL_NAME, run_id, "model", val_auc=v.get("auc"),
            calibration_ok=bool(rep.get("calibration_ok", False)), tracking_uri=tracking_uri,
            description=f"PD fitted on book {summary['portfolio']}, out-of-time AUC "
                        f"{v.get('auc', float('nan')):.4f}")
    return run_id, version


def train_portfolio_command(args: argparse.Namespace) -> int:
    """``riskengine train --portfolio DIR [--out] [--no-register] [--frequency]``."""
    if args.frequency not in FREQUENCIES:
        raise InvalidInputError(f"--frequency {args.frequency!r}: use one of {FREQUENCIES}.")
    s = train_on_book(args.portfolio, args.out or "book-model",
                      tracking_uri=args.tracking_uri, register=not args.no_register,
                      frequency=args.frequency)
    fit: BookFit = s["fit"]
    v, pv = s["validation"], s["prior_validation"]
    print(f"book {s['portfolio']} as of {s['book_as_of']}: training dates "
          f"{', '.join(s['dates']['train'])}; held out {s['dates']['validation']}")
    print(f"training rows {fit.facts['rows']}, defaults {fit.facts['events']}; statement "
          f"component: {fit.statement_method}")
    for name, f in (("fitted", v), ("prior (US champion + committee)", pv)):
        print(f"{name}: held-out rows {f['rows']} defaults {f['defaults']} AUC "
              f"{f['auc']:.4f} [{f['auc_lo']:.4f}, {f['auc_hi']:.4f}] mean PD "
              f"{f['mean_pd']:.4f} vs default rate {f['default_rate']:.4f}; calibration "
              f"slope {f.get('calibration_slope', float('nan')):.3f}")
    print(f"model directory: {s['out_dir']}"
          + (f"; registry: {BOOK_MODEL_NAME} version {s['version']}" if s["version"] else "")
          + f"; {s['seconds']:.1f} s")
    return 0
