"""The validation report of the PD model (shell): HTML, metrics.json, PNG plots, MLflow.

:func:`write_validation_report` turns arrays (labels, PDs, grades, optional
training PDs, walk-forward and benchmark results) into

- ``report.html`` — one self-contained page (plots referenced beside it);
- ``metrics.json`` — every figure of the page, machine-readable;
- ``roc.png``, ``calibration_by_grade.png``, ``grade_distribution.png``,
  ``score_distribution.png`` (matplotlib ``Figure`` objects rendered by the Agg
  backend, no pyplot global state);

and logs the directory and the headline metrics to MLflow when a run is active.

:func:`validate_command` is ``riskengine validate``: it loads the shipped
champion, scores the US validation split and orchestrates every section
(per-grade table with the Jeffreys test, PSI train vs validation, walk-forward,
Altman Z'' on the same rows, Polish 10-fold CV, Spanish adverse-feature gain).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from jinja2 import Environment, select_autoescape
from matplotlib.figure import Figure
from scipy import stats

from riskengine.model import metrics as mt
from riskengine.model.master_scale import GRADES, MasterScale

__all__ = [
    "validation_metrics",
    "write_validation_report",
    "altman_z2",
    "spanish_adverse_experiment",
    "SPANISH_ADVERSE_FEATURES",
    "validate_command",
]

SPANISH_ADVERSE_FEATURES: tuple[str, ...] = (
    "DELAY_ACCOUNTS",
    "NUMBER_JUDICIAL_INCIDENCES_TOTAL",
    "NUMBER_JUDICIAL_INCIDENCES_YEAR",
    "SPENT_JUDICIAL_INCIDENCES_TOTAL",
    "SPENT_JUDICIAL_INCIDENCES_YEAR",
    "NUMBER_SERIOUS_INCIDENCES",
    "AUDITED",
    "AUDITORS_OPINION",
)
"""Adverse and qualitative records of the Spanish data (late filing, judicial
incidences, serious incidences, audit) — the analogue of riskengine's adverse pipeline."""


# --------------------------------------------------------------------------- metrics
def _finite_or_none(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    keep_index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    out = (frame.reset_index() if keep_index else frame).to_dict(orient="records")
    return [{str(k): _finite_or_none(v) for k, v in row.items()} for row in out]


def validation_metrics(
    y: Any,
    pd_: Any,
    grades: Any,
    *,
    train_pd: Any = None,
    scale: MasterScale | None = None,
    calibration: tuple[Any, Any] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Every validation figure of one scored sample (pure computation).

    Parameters
    ----------
    y : array-like of {0, 1}
        Observed 12-month defaults.
    pd_ : array-like of float
        Predicted PDs of the same rows.
    grades : array-like of str
        Their master-scale grades.
    train_pd : array-like of float, optional
        PDs of the training rows: PSI (train = expected, sample = actual) on
        deciles of the training PDs.
    scale : MasterScale, optional
        With ``train_pd``: also the PSI on the master-scale bands. Required
        with ``calibration``.
    calibration : (y, pd), optional
        A separate sample for the Jeffreys calibration test, e.g. the PDs
        *before* anchoring (anchoring moves PDs to the book's central tendency
        on purpose, away from this sample's default rate). Its table is
        ``calibration_table`` and decides ``calibration_ok``; without it the
        main grade table decides.
    n_boot, seed : int
        Bootstrap draws and seed of the AUC/Gini confidence intervals.

    Returns
    -------
    dict
        ``discrimination`` (auc, gini with CIs, ks, n, defaults), ``brier``,
        ``mean_pd``, ``observed_dr``, ``grade_table`` (DataFrame),
        ``monotonicity`` (MonotonicityResult), ``calibration_ok`` (no red grade),
        ``psi`` and ``psi_grades`` with their lights (when ``train_pd`` is given).
    """
    yy = np.asarray(y, dtype=float)
    pp = np.asarray(pd_, dtype=float)
    table = mt.grade_table(yy, pp, grades)
    mono = mt.monotonicity_test(table)
    out: dict[str, Any] = {
        "discrimination": mt.discrimination(yy, pp, n_boot=n_boot, seed=seed),
        "brier": mt.brier_score(yy, pp),
        "mean_pd": float(pp.mean()),
        "observed_dr": float(yy.mean()),
        "grade_table": table,
        "monotonicity": mono,
        "calibration_ok": bool((table["light"] != "red").all()),
    }
    if calibration is not None:
        if scale is None:
            raise ValueError("validation_metrics: a calibration sample needs the master scale.")
        yc = np.asarray(calibration[0], dtype=float)
        pc = np.asarray(calibration[1], dtype=float)
        cal = mt.grade_table(yc, pc, scale.pd_to_grade(pc))
        out["calibration_table"] = cal
        out["calibration_ok"] = bool((cal["light"] != "red").all())
    if train_pd is not None:
        tp = np.asarray(train_pd, dtype=float)
        out["psi"] = mt.psi(tp, pp, bins=10)
        out["psi_light"] = mt.psi_light(out["psi"])
        if scale is not None:
            edges = np.r_[0.0, np.asarray(scale.upper_bounds), 1.0 + 1e-12]
            out["psi_grades"] = mt.psi(tp, pp, edges=edges)
            out["psi_grades_light"] = mt.psi_light(out["psi_grades"])
    return out


def _metrics_json(results: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in results.items():
        if isinstance(value, pd.DataFrame):
            out[key] = _records(value)
        elif isinstance(value, mt.MonotonicityResult):
            out[key] = {"passed": value.passed, "n_point_inversions": value.n_point_inversions,
                        "n_significant": value.n_significant, "level": value.level,
                        "pairs": _records(value.pairs.set_index("better"))
                        if len(value.pairs) else []}
        elif isinstance(value, Mapping):
            out[key] = _metrics_json(value)
        else:
            out[key] = _finite_or_none(value)
    return out


# ----------------------------------------------------------------------------- plots
def _plot_roc(path: Path, y: npt.NDArray[np.float64], curves: Mapping[str, Any]) -> None:
    from sklearn.metrics import roc_curve

    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    for label, score in curves.items():
        s = np.asarray(score, dtype=float)
        ok = np.isfinite(s)
        fpr, tpr, _ = roc_curve(y[ok], s[ok])
        ax.plot(fpr, tpr, label=f"{label} (AUC {mt.auc(y[ok], s[ok]):.3f})")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_calibration(path: Path, table: pd.DataFrame) -> None:
    t = table[table["n"] > 0]
    a = t["defaults"].to_numpy(float) + 0.5
    b = (t["n"] - t["defaults"]).to_numpy(float) + 0.5
    lo, hi = stats.beta.ppf(0.025, a, b), stats.beta.ppf(0.975, a, b)
    x = np.arange(len(t))
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    obs = np.maximum(t["observed_dr"].to_numpy(float), 1e-5)  # log axis: 0 drawn at 1e-5
    ax.errorbar(x, obs, yerr=[np.maximum(obs - lo, 0), np.maximum(hi - obs, 0)], fmt="o",
                label="observed default rate (Jeffreys 95 %)")
    ax.plot(x, t["mean_pd"], "s-", label="mean predicted PD")
    colours = {"green": "tab:green", "yellow": "gold", "red": "tab:red", "n/a": "grey"}
    for i, light in enumerate(t["light"]):
        ax.axvspan(i - 0.4, i + 0.4, color=colours[str(light)], alpha=0.15, lw=0)
    ax.set_yscale("log")
    ax.set_xticks(x, t.index)
    ax.set(xlabel="grade", ylabel="12-month default rate",
           title="Calibration by grade (band colour: Jeffreys traffic light)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_grades(path: Path, grades: Any, train_grades: Any = None) -> None:
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    x = np.arange(len(GRADES))
    sets = [("validation", grades)] + ([("train", train_grades)] if train_grades is not None
                                         else [])
    width = 0.8 / len(sets)
    for i, (label, g) in enumerate(sets):
        counts = pd.Series(np.asarray(g).astype(str)).value_counts()
        share = np.array([counts.get(k, 0) for k in GRADES], dtype=float) / max(len(g), 1)
        ax.bar(x + i * width - 0.4 + width / 2, share, width, label=label)
    ax.set_xticks(x, GRADES)
    ax.set(xlabel="grade", ylabel="share of rows", title="Grade distribution")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _plot_scores(path: Path, y: npt.NDArray[np.float64], pd_: npt.NDArray[np.float64],
                 train_pd: Any = None) -> None:
    fig = Figure(figsize=(10, 4))
    axes = fig.subplots(1, 2)
    lp = np.log10(pd_)
    bins = np.linspace(lp.min(), lp.max(), 40)
    axes[0].hist(lp[y == 0], bins=bins, density=True, alpha=0.6, label="no default")
    axes[0].hist(lp[y == 1], bins=bins, density=True, alpha=0.6, label="default")
    axes[0].set(xlabel="log10 PD", ylabel="density", title="PD by outcome (validation)")
    axes[0].legend()
    if train_pd is not None:
        tl = np.log10(np.asarray(train_pd, dtype=float))
        axes[1].hist(tl, bins=bins, density=True, alpha=0.6, label="train")
    axes[1].hist(lp, bins=bins, density=True, alpha=0.6, label="validation")
    axes[1].set(xlabel="log10 PD", title="PD distribution: train vs validation")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# ------------------------------------------------------------------------------ HTML
_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;
text-align:right}th{background:#f3f3f3}.green{background:#d9f2d9}.yellow{background:#fff3b0}
.red{background:#f7c6c6}img{max-width:100%}.note{color:#555;font-size:.9em}
</style></head><body>
<h1>{{ title }}</h1>
{% if info %}<table>{% for k, v in info.items() %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table>{% endif %}
<h2>Discrimination</h2>
<table><tr><th>rows</th><th>defaults</th><th>AUC</th><th>AUC 95 % CI</th><th>Gini</th>
<th>Gini 95 % CI</th><th>KS</th><th>Brier</th><th>mean PD</th><th>observed DR</th></tr>
<tr><td>{{ d.n|int }}</td><td>{{ d.defaults|int }}</td><td>{{ '%.4f'|format(d.auc) }}</td>
<td>{{ '%.4f'|format(d.auc_lo) }} – {{ '%.4f'|format(d.auc_hi) }}</td>
<td>{{ '%.4f'|format(d.gini) }}</td>
<td>{{ '%.4f'|format(d.gini_lo) }} – {{ '%.4f'|format(d.gini_hi) }}</td>
<td>{{ '%.4f'|format(d.ks) }}</td><td>{{ '%.5f'|format(brier) }}</td>
<td>{{ '%.4f'|format(mean_pd) }}</td><td>{{ '%.4f'|format(observed_dr) }}</td></tr></table>
<p class="note">Bootstrap: {{ n_boot }} stratified draws, seed {{ seed }}.</p>
<img src="roc.png" alt="ROC curve">
{% if benchmarks %}<h2>Benchmarks</h2><table><tr><th>figure</th><th>value</th></tr>
{% for k, v in benchmarks.items() %}<tr><th>{{ k }}</th><td>{{ fmt(v) }}</td></tr>{% endfor %}
</table>{% endif %}
<h2>Calibration by grade</h2>
<p class="note">One-sided Jeffreys test per grade: p = Beta(d + ½, n − d + ½).cdf(mean PD);
confidence = 1 − p; green &lt; 95 %, yellow, red ≥ 99.9 %. Calibration
{{ 'passes (no red grade)' if calibration_ok else 'FAILS (a red grade)' }}.</p>
<table><tr><th>grade</th><th>n</th><th>defaults</th><th>observed DR</th><th>mean PD</th>
<th>share</th><th>p-value</th><th>confidence</th><th>light</th></tr>
{% for r in grade_rows %}<tr class="{{ r.light }}"><th>{{ r.grade }}</th><td>{{ r.n }}</td>
<td>{{ r.defaults }}</td><td>{{ pct(r.observed_dr) }}</td><td>{{ pct(r.mean_pd) }}</td>
<td>{{ pct(r.share) }}</td><td>{{ fmt(r.jeffreys_p) }}</td><td>{{ pct(r.confidence) }}</td>
<td>{{ r.light }}</td></tr>{% endfor %}</table>
{% if cal_rows is not none %}<h3>Calibration test sample</h3>
<p class="note">{{ calibration_note }} This table decides the calibration verdict.</p>
<table><tr><th>grade</th><th>n</th><th>defaults</th><th>observed DR</th><th>mean PD</th>
<th>share</th><th>p-value</th><th>confidence</th><th>light</th></tr>
{% for r in cal_rows %}<tr class="{{ r.light }}"><th>{{ r.grade }}</th><td>{{ r.n }}</td>
<td>{{ r.defaults }}</td><td>{{ pct(r.observed_dr) }}</td><td>{{ pct(r.mean_pd) }}</td>
<td>{{ pct(r.share) }}</td><td>{{ fmt(r.jeffreys_p) }}</td><td>{{ pct(r.confidence) }}</td>
<td>{{ r.light }}</td></tr>{% endfor %}</table>{% endif %}
<img src="calibration_by_grade.png" alt="calibration by grade">
<h3>Monotonicity of observed default rates</h3>
<p class="note">Adjacent populated grades; P(worse grade's true rate &lt; better grade's) under
independent Jeffreys posteriors; an inversion counts when ≥ {{ mono.level }}.
Result: {{ 'monotone within noise' if mono.passed else 'SIGNIFICANT INVERSION' }}
({{ mono.n_point_inversions }} point inversion(s), {{ mono.n_significant }} significant).</p>
<table><tr><th>better</th><th>worse</th><th>DR better</th><th>DR worse</th>
<th>P(inverted)</th><th>significant</th></tr>
{% for r in mono_rows %}<tr><th>{{ r.better }}</th><th>{{ r.worse }}</th>
<td>{{ pct(r.dr_better) }}</td><td>{{ pct(r.dr_worse) }}</td><td>{{ fmt(r.prob_inverted) }}</td>
<td>{{ r.significant }}</td></tr>{% endfor %}</table>
<img src="grade_distribution.png" alt="grade distribution">
<h2>Population stability</h2>
{% if psi is not none %}<table><tr><th>PSI (deciles of training PD)</th><td class="{{ psi_light }}">
{{ '%.4f'|format(psi) }} ({{ psi_light }})</td></tr>
{% if psi_grades is not none %}<tr><th>PSI (master-scale bands)</th>
<td class="{{ psi_grades_light }}">{{ '%.4f'|format(psi_grades) }}
({{ psi_grades_light }})</td></tr>{% endif %}</table>
<p class="note">&lt; 0.10 stable, 0.10–0.25 minor shift, &gt; 0.25 major shift.</p>
{% else %}<p>No training scores given.</p>{% endif %}
<img src="score_distribution.png" alt="score distributions">
{% for name, rows in tables.items() %}<h2>{{ name }}</h2>
{% if notes.get(name) %}<p class="note">{{ notes[name] }}</p>{% endif %}
{% if rows %}<table><tr>{% for c in rows[0].keys() %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for v in r.values() %}<td>{{ fmt(v) }}</td>{% endfor %}</tr>
{% endfor %}</table>{% else %}<p>(empty)</p>{% endif %}{% endfor %}
</body></html>
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        f = float(v)
        if not math.isfinite(f):
            return "–"
        return f"{f:.4g}" if abs(f) < 1e-3 and f != 0 else f"{f:.4f}"
    return str(v)


def _pct(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * float(v):.2f} %"


def write_validation_report(
    out_dir: str | Path,
    *,
    y: Any,
    pd_: Any,
    grades: Any,
    train_pd: Any = None,
    train_grades: Any = None,
    scale: MasterScale | None = None,
    calibration: tuple[Any, Any] | None = None,
    calibration_note: str = "",
    benchmark_scores: Mapping[str, Any] | None = None,
    benchmarks: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    notes: Mapping[str, str] | None = None,
    info: Mapping[str, Any] | None = None,
    title: str = "riskengine PD model: validation report",
    n_boot: int = 1000,
    seed: int = 0,
    log_to_mlflow: bool = True,
) -> dict[str, Path]:
    """Write the HTML report, ``metrics.json`` and the plots; log them to an active MLflow run.

    Parameters
    ----------
    out_dir : path
        Created if absent; existing files of the same names are overwritten.
    y, pd_, grades : array-like
        Labels, PDs and grades of the validation rows.
    train_pd, train_grades : array-like, optional
        PDs and grades of the training rows (PSI, distribution plots).
    scale : MasterScale, optional
        The scale of ``grades`` (PSI on its bands).
    calibration : (y, pd), optional
        Separate sample of the Jeffreys calibration test (see
        :func:`validation_metrics`); ``calibration_note`` describes it.
    benchmark_scores : mapping, optional
        Extra ROC curves on the *same rows*, ``{label: score}`` (higher = riskier;
        NaN rows are left out of that curve), e.g. ``{"Altman Z''": -z}``.
    benchmarks : mapping, optional
        Headline figures ``{name: value}`` (e.g. Altman AUC, Polish CV AUC).
    tables : mapping of str to DataFrame, optional
        Further sections (walk-forward, Spanish experiment), one table each.
    notes : mapping of str to str, optional
        A sentence under a table of the same name (protocol, source).
    info : mapping, optional
        Model and data facts shown at the top (version, data hash, scale version).
    title : str
    n_boot, seed : int
        Bootstrap draws and seed of the confidence intervals.
    log_to_mlflow : bool, default True
        When an MLflow run is active, log the directory under ``validation/``
        and the headline metrics (``val_auc``, ``val_gini``, ``val_ks``,
        ``val_brier``, ``val_psi`` …).

    Returns
    -------
    dict of str to Path
        ``html, metrics, roc, calibration, grades, scores``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    yy = np.asarray(y, dtype=float)
    pp = np.asarray(pd_, dtype=float)
    res = validation_metrics(yy, pp, grades, train_pd=train_pd, scale=scale,
                             calibration=calibration, n_boot=n_boot, seed=seed)
    paths = {
        "html": out / "report.html", "metrics": out / "metrics.json", "roc": out / "roc.png",
        "calibration": out / "calibration_by_grade.png",
        "grades": out / "grade_distribution.png", "scores": out / "score_distribution.png",
    }
    curves: dict[str, Any] = {"PD model": pp, **dict(benchmark_scores or {})}
    _plot_roc(paths["roc"], yy, curves)
    _plot_calibration(paths["calibration"], res.get("calibration_table", res["grade_table"]))
    _plot_grades(paths["grades"], grades, train_grades)
    _plot_scores(paths["scores"], yy, pp, train_pd)

    extra = {name: _records(t) for name, t in (tables or {}).items()}
    doc = _metrics_json({**res, "benchmarks": dict(benchmarks or {}),
                         "info": {k: str(v) for k, v in (info or {}).items()}})
    doc["tables"] = extra
    doc["bootstrap"] = {"n_boot": n_boot, "seed": seed}
    paths["metrics"].write_text(json.dumps(doc, indent=2, default=_finite_or_none) + "\n",
                                encoding="utf-8")

    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_TEMPLATE).render(
        title=title, info=dict(info or {}), d=res["discrimination"], brier=res["brier"],
        mean_pd=res["mean_pd"], observed_dr=res["observed_dr"], n_boot=n_boot, seed=seed,
        benchmarks=dict(benchmarks or {}), calibration_ok=res["calibration_ok"],
        grade_rows=_records(res["grade_table"]), mono=res["monotonicity"],
        cal_rows=_records(res["calibration_table"]) if "calibration_table" in res else None,
        calibration_note=calibration_note,
        mono_rows=_records(res["monotonicity"].pairs), psi=res.get("psi"),
        psi_light=res.get("psi_light"), psi_grades=res.get("psi_grades"),
        psi_grades_light=res.get("psi_grades_light"), tables=extra, notes=dict(notes or {}),
        fmt=_fmt, pct=_pct,
    )
    paths["html"].write_text(html, encoding="utf-8")
    if log_to_mlflow:
        _log_active_run(out, res, benchmarks or {})
    return paths


def _log_active_run(out: Path, res: Mapping[str, Any], benchmarks: Mapping[str, Any]) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    d = res["discrimination"]
    figures = {"val_auc": d["auc"], "val_auc_lo": d["auc_lo"], "val_auc_hi": d["auc_hi"],
               "val_gini": d["gini"], "val_ks": d["ks"], "val_brier": res["brier"],
               "val_psi": res.get("psi"), "val_monotone": float(res["monotonicity"].passed),
               "val_calibration_ok": float(res["calibration_ok"])}
    for k, v in benchmarks.items():
        if isinstance(v, int | float | np.floating) and not isinstance(v, bool):
            figures[f"bench_{k}"] = float(v)
    mlflow.log_metrics({k: float(v) for k, v in figures.items()
                        if v is not None and math.isfinite(float(v))})
    mlflow.log_artifacts(str(out), artifact_path="validation")


# ---------------------------------------------------------------- benchmark pieces
def altman_z2(statements: pd.DataFrame) -> pd.Series:
    """Altman Z'' (non-manufacturers, private firms) of each statement row.

    ``Z'' = 6.56 WC/TA + 3.26 RE/TA + 6.72 EBIT/TA + 1.05 BookEquity/TL``
    (DOMAIN.md §4; safe > 2.60, distress < 1.10), with WC = current_assets −
    current_liabilities and BookEquity = total_assets − total_liabilities.
    Lower is riskier. NaN where total_assets or total_liabilities is not
    positive (the ratios are undefined).
    """
    ta = statements["total_assets"].where(statements["total_assets"] > 0)
    tl = statements["total_liabilities"].where(statements["total_liabilities"] > 0)
    wc = statements["current_assets"] - statements["current_liabilities"]
    book = statements["total_assets"] - statements["total_liabilities"]
    z = (6.56 * wc / ta + 3.26 * statements["retained_earnings"] / ta
         + 6.72 * statements["ebit"] / ta + 1.05 * book / tl)
    return z.rename("altman_z2")


def _spanish_learner(kind: str, seed: int) -> Any:
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    if kind == "hgb":
        return HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40,
            l2_regularization=1.0, categorical_features="from_dtype", random_state=seed)
    numeric = make_pipeline(SimpleImputer(strategy="median"),
                            QuantileTransformer(n_quantiles=200, output_distribution="normal"))
    nominal = make_pipeline(SimpleImputer(strategy="most_frequent"),
                            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20))
    prep = ColumnTransformer([
        ("num", numeric, make_column_selector(dtype_include="number")),
        ("cat", nominal, make_column_selector(dtype_include="category")),
    ])
    return make_pipeline(prep, LogisticRegression(C=0.1, max_iter=2000))


def spanish_adverse_experiment(
    X: pd.DataFrame,
    y: pd.Series,
    *,
    test_years: Sequence[int] = (2002, 2003),
    learners: Sequence[str] = ("logistic", "hgb"),
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """AUC of the Spanish data with vs without its adverse/judicial-incidence features.

    Protocol: split by ``YEAR`` (there is no firm id, so random splits leak):
    fit on the years before ``min(test_years)``, score every test year, and
    also walk forward (fit on years < t, score t) for each test year. Both
    models see the same rows; "without" drops :data:`SPANISH_ADVERSE_FEATURES`.
    ``YEAR`` itself is never a feature. The gain's CI is a paired stratified
    bootstrap of the test rows (both AUCs on the same draw).

    Returns
    -------
    pandas.DataFrame
        One row per (learner, test window): ``learner, train_years, test_years,
        n_test, defaults_test, auc_without, auc_with, gain, gain_lo, gain_hi``.
    """
    year = X["YEAR"].to_numpy()
    feats_with = [c for c in X.columns if c != "YEAR"]
    feats_without = [c for c in feats_with if c not in SPANISH_ADVERSE_FEATURES]
    windows = [(min(test_years), tuple(test_years))] + [(t, (t,)) for t in test_years]
    rows = []
    for kind in learners:
        for first_test, window in windows:
            tr = year < first_test
            te = np.isin(year, window)
            yt = y.to_numpy()[te]
            scores = {}
            for label, cols in (("with", feats_with), ("without", feats_without)):
                model = _spanish_learner(kind, seed).fit(X.loc[tr, cols], y[tr])
                scores[label] = model.predict_proba(X.loc[te, cols])[:, 1]
            gains = _paired_bootstrap_gain(yt, scores["with"], scores["without"], n_boot, seed)
            a_w, a_wo = mt.auc(yt, scores["with"]), mt.auc(yt, scores["without"])
            rows.append({
                "learner": kind, "train_years": f"< {first_test}",
                "test_years": "–".join(str(w) for w in window), "n_test": int(te.sum()),
                "defaults_test": int(yt.sum()), "auc_without": a_wo, "auc_with": a_w,
                "gain": a_w - a_wo, "gain_lo": gains[0], "gain_hi": gains[1],
            })
    return pd.DataFrame(rows)


def _paired_bootstrap_gain(y: npt.NDArray[Any], s_with: npt.NDArray[Any],
                           s_without: npt.NDArray[Any], n_boot: int,
                           seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    i1, i0 = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if i1.size == 0 or i0.size == 0:
        return float("nan"), float("nan")
    vals = np.empty(n_boot)
    for b in range(n_boot):
        take = np.concatenate([rng.choice(i1, i1.size), rng.choice(i0, i0.size)])
        vals[b] = mt.auc(y[take], s_with[take]) - mt.auc(y[take], s_without[take])
    lo, hi = np.quantile(vals, [0.025, 0.975])
    return float(lo), float(hi)


# ----------------------------------------------------------------------- the command
def polish_cv_auc(model: Any, *, folds: int = 10, seed: int = 0) -> pd.DataFrame:
    """The champion's learner (same hyperparameters, no monotone constraints: the
    Polish ratios have other meanings) on ``polish/5year.arff``, stratified k-fold CV.

    Returns one row per fold: ``fold, n_test, defaults_test, auc``.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold

    from riskengine.io.datasets import load_polish

    X, y = load_polish("5year")
    params = model.get_params() if hasattr(model, "get_params") else {}
    keys = ("max_iter", "learning_rate", "max_leaf_nodes", "min_samples_leaf",
            "l2_regularization")
    hgb = {k: params[k] for k in keys if k in params}
    rows = []
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for i, (tr, te) in enumerate(skf.split(X, y), start=1):  # k folds
        learner = HistGradientBoostingClassifier(random_state=seed, **hgb)
        learner.fit(X.iloc[tr], y.iloc[tr])
        s_te = learner.predict_proba(X.iloc[te])[:, 1]
        rows.append({"fold": i, "n_test": len(te), "defaults_test": int(y.iloc[te].sum()),
                     "auc": mt.auc(y.iloc[te], s_te)})
    return pd.DataFrame(rows)


def collect_validation_sections(model_dir: Any = None, *, quick: bool = False) -> dict[str, Any]:
    """Score and benchmark everything the report shows (reads the shipped model and data).

    Uses ``riskengine.io.artifacts.load_champion``,
    ``riskengine.modeldev.protocol.us_panel_frame`` / ``fit_pd_model`` and the
    loaders of :mod:`riskengine.io.datasets`. Returns the keyword arguments of
    :func:`write_validation_report` (without ``out_dir``).
    """
    from riskengine.config import load_master_scale
    from riskengine.io.artifacts import champion_money_unit, load_champion
    from riskengine.io.datasets import load_spanish
    from riskengine.modeldev.protocol import MIN_STATEMENTS, fit_pd_model, us_panel_frame

    scale = load_master_scale()
    model = load_champion(model_dir)
    features = [str(c) for c in model.feature_names_in_]
    frame = us_panel_frame(None, champion_money_unit(model_dir))  # in the model's unit
    train = frame[frame["split"] == "train"]
    valid = frame[frame["split"] == "validation"]
    y = valid["default_12m"].to_numpy()
    pd_valid = model.predict_pd(valid[features])
    pd_train = model.predict_pd(train[features])
    grades = scale.pd_to_grade(pd_valid)
    train_grades = scale.pd_to_grade(pd_train)
    hist = (valid["st_n_statements"] >= MIN_STATEMENTS).to_numpy()
    raw = model.predict_pd(valid.loc[hist, features], anchor=False)

    # Altman Z'' (statement pipeline's st_altman_z2, else recomputed) on the same rows
    zv = (valid["st_altman_z2"].to_numpy(float) if "st_altman_z2" in valid.columns
          else altman_z2(valid).to_numpy(float))
    ok = np.isfinite(zv)
    auc_z = mt.auc(y[ok], -zv[ok])
    auc_model_same = mt.auc(y[ok], pd_valid[ok])

    # walk-forward on the whole panel: fresh fits on earlier years (firm-grouped
    # cross-fitting, rows with enough history as in training), score year t
    years = [2012, 2013, 2014] if quick else list(range(2006, 2015))

    def fit_predict(tr: pd.DataFrame, te: pd.DataFrame) -> Any:
        tr = tr[tr["st_n_statements"] >= MIN_STATEMENTS]
        fitted = fit_pd_model(tr[features], tr["default_12m"], groups=tr["debtor_id"])
        return fitted.predict_pd(te[features])

    wf = mt.walk_forward(frame, "fiscal_year", fit_predict, years)

    polish = polish_cv_auc(model, folds=3 if quick else 10)
    xs, ys = load_spanish()
    spanish = spanish_adverse_experiment(xs, ys, n_boot=200 if quick else 1000,
                                         learners=("logistic",) if quick else ("logistic", "hgb"))
    main = spanish[spanish["test_years"].str.contains("–")]
    info: dict[str, Any] = {"model features": len(features), "master scale": scale.version,
                            "validation rows": len(valid), "training rows": len(train)}
    try:
        from riskengine.io.artifacts import champion_path, read_metadata

        meta = read_metadata(champion_path(model_dir))
        for k in ("created_at", "training_data_sha256", "data_hash", "sha256", "model_version"):
            if k in meta:
                info[f"model {k}"] = meta[k]
    except Exception:  # metadata is informative only; the model itself was verified
        pass
    return {
        "y": y, "pd_": pd_valid, "grades": grades, "train_pd": pd_train,
        "train_grades": train_grades, "scale": scale,
        "calibration": (y[hist], raw),
        "calibration_note": f"PDs before anchoring to the central tendency, validation rows "
        f"with at least {MIN_STATEMENTS} statements ({int(hist.sum())} rows, "
        f"{int(y[hist].sum())} defaults): the calibration sample of the training protocol.",
        "benchmark_scores": {"Altman Z'' (unfitted)": np.where(ok, -zv, np.nan)},
        "benchmarks": {
            "altman_z2_auc_same_rows": auc_z,
            "model_auc_same_rows": auc_model_same,
            "auc_gain_over_altman": auc_model_same - auc_z,
            "altman_rows": int(ok.sum()),
            "walk_forward_mean_auc": float(wf["auc"].mean()),
            "polish_5year_cv_auc_mean": float(polish["auc"].mean()),
            "polish_5year_cv_auc_sd": float(polish["auc"].std(ddof=1)),
            "polish_folds": len(polish),
            **{f"spanish_{r.learner}_auc_gain": float(r.gain) for r in main.itertuples()},
        },
        "tables": {"Walk-forward (US panel)": wf, "Polish 5year: stratified CV": polish,
                   "Spanish data: gain from adverse records": spanish},
        "notes": {
            "Walk-forward (US panel)": "Expanding window: for each test year t a fresh model "
            "(fit_pd_model) is fitted on all firm-years with fiscal_year < t and scores year t.",
            "Polish 5year: stratified CV": "Same learner and hyperparameters as the champion, "
            "no monotone constraints; stratified folds, seed 0 (no firm ids or years exist).",
            "Spanish data: gain from adverse records": "Split by YEAR: fit on earlier years, "
            "test on 2002–2003 and walk forward per year. 'without' drops "
            + ", ".join(SPANISH_ADVERSE_FEATURES) + ". Gain CI: paired stratified bootstrap.",
        },
        "info": info,
    }


def validate_command(args: Any) -> int:
    """``riskengine validate --out DIR [--model-dir] [--tracking-uri] [--quick]``.

    Loads the shipped champion (sha256-checked), scores the US validation split,
    writes the full report to ``--out`` and logs it to MLflow (run
    ``validation`` in experiment ``riskengine-pd`` of the tracking store).
    ``--quick``: 200 bootstrap draws, walk-forward over 2012–2014 only, Polish
    3-fold instead of 10-fold, Spanish logistic learner only.
    """
    import mlflow

    from riskengine.io.console import progress, set_result
    from riskengine.tracking import runs as tracking

    quick = bool(getattr(args, "quick", False))
    with progress(None, "validation: scoring the samples (US, Polish, Spanish)", unit=""):
        sections = collect_validation_sections(getattr(args, "model_dir", None), quick=quick)
    uri = tracking.resolve_tracking_uri(getattr(args, "tracking_uri", None))
    mlflow.set_tracking_uri(uri)
    exp_id = tracking.get_or_create_experiment(tracking.DEFAULT_EXPERIMENT, tracking_uri=uri)
    with progress(None, "validation: the report and its MLflow logging", unit=""), \
            mlflow.start_run(experiment_id=exp_id, run_name="validation",
                             tags={"kind": "validation", "quick": str(quick).lower(),
                                   "master_scale": sections["scale"].version}):
        paths = write_validation_report(args.out, n_boot=200 if quick else 1000, **sections)
    summary = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    set_result(args, {"report": {k: str(v) for k, v in paths.items()}, "summary": summary})
    d = summary["discrimination"]
    print(f"validation report: {paths['html']}")
    print(f"US validation: AUC {d['auc']:.4f} [{d['auc_lo']:.4f}, {d['auc_hi']:.4f}], "
          f"Gini {d['gini']:.4f}, KS {d['ks']:.4f}, Brier {summary['brier']:.5f}; "
          f"calibration {'ok' if summary['calibration_ok'] else 'FAILED'}; "
          f"monotone {'yes' if summary['monotonicity']['passed'] else 'NO'}; "
          f"PSI {summary.get('psi')}")
    for k, v in summary["benchmarks"].items():
        print(f"  {k}: {v}")
    return 0
