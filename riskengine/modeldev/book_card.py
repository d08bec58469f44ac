"""The model card (Markdown) of a PD fitted on a book by ``riskengine train --portfolio``."""

from __future__ import annotations

import math
from typing import Any

from riskengine.modeldev.book_model import (
    EVENTS_PER_FEATURE,
    PRIOR_SD,
    PRIOR_SD_BASIS,
    PRIOR_SD_SLOPE,
    TRANSFORM_MARGIN,
    BookFit,
)

__all__ = ["book_model_card"]

_STATEMENT = {
    "refit": "a gradient-boosting model refitted on the book's statement features (the "
             "champion's hyperparameters, the engine's monotone constraints, 3 folds of "
             "cross-fitted Platt calibration), its logit entering with an intercept and "
             f"a slope fitted beside the overlay (slope prior N(1, {PRIOR_SD_SLOPE}^2))",
    "prior": "the shipped US champion (the prior), recalibrated on the book by an "
             f"intercept and a slope (slope prior N(1, {PRIOR_SD_SLOPE}^2))",
    "prior_unchanged": "the shipped US champion, unchanged (no default in the training "
                       "window: nothing could be fitted)",
}


def _f(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}"


def book_model_card(s: dict[str, Any]) -> str:
    """The card's Markdown from :func:`riskengine.modeldev.book_training.train_on_book`'s
    summary."""
    fit: BookFit = s["fit"]
    f = fit.facts
    v, pv = s["validation"], s["prior_validation"]
    d = s["dates"]
    lines = [
        "# riskengine PD model fitted on a book",
        "",
        f"Book: `{s['portfolio']}` (as of {s['book_as_of']}, data sha256 "
        f"`{s['data_sha256'][:16]}`). Created by `riskengine train --portfolio`.",
        "",
        "## Method",
        "",
        "`logit PD = statement component + sum_i w_i x_i` — the engine's own core: "
        "the PD model file and `overlay.toml` of this directory are what "
        "`load_engine`, `rerate`, `serve` and `publish` read with `--model-dir`.",
        "",
        f"- Statement component: {_STATEMENT[fit.statement_method]}. Refit threshold: "
        f"{EVENTS_PER_FEATURE} defaults per statement feature among statement-rated "
        f"debtors ({f.get('refit_threshold', 'n/a')} here; the book had "
        f"{f.get('statement_events', 0)}): the events-per-variable rule (Peduzzi et al. "
        "1996, 10 per variable for a logistic model) doubled for a tree ensemble (van der "
        "Ploeg, Austin and Steyerberg 2014).",
        "- Tax returns: " + (
            f"scored by the refitted model ({f.get('tax_return_events', 0)} defaults among "
            f"{f.get('tax_return_rows', 0)} tax-return rows for "
            f"{f.get('tax_return_features', 0)} features a tax return carries, at least "
            f"{EVENTS_PER_FEATURE} per feature; `overlay.toml` [basis] tax_return_model = "
            "true)." if f.get("tax_return_model") else
            "rated on the basis prior (the statement model was not refitted, or the "
            "tax returns held fewer than "
            f"{EVENTS_PER_FEATURE} defaults per feature they carry)."),
        "- Debtors rated on a basis prior (no usable statements; tax returns unless "
        "scored by the model): the logit of the basis PD plus one fitted shift per basis "
        f"(prior N(0, {PRIOR_SD_BASIS}^2)).",
        "- Overlay weights: penalised logistic regression "
        "(`riskengine.modeldev.glm`), statement component as offset, `w_i >= 0` "
        f"(monotone overlay), Gaussian prior N(committee weight, {PRIOR_SD}^2) per "
        "weight: the posterior mode (Gelman et al., *Bayesian Data Analysis*, 3rd ed., "
        "16.2; Greenland, Int. J. Epidemiol. 36 (2007) 195-202). A thin book stays near "
        "the committee. Intervals: Wald 95 % from the penalised Hessian, cut at 0.",
        "- Concentration features (`conc_`) are left out: they describe the factor's "
        "exposure to the debtor (shares of a ledger, a group, a sector), not the "
        "debtor's own creditworthiness; their direction on the debtor's PD is not known "
        "and the policy already caps concentration. Nor are they point in time: "
        "exposures, relations and insurer limits are the book as of its extract (a "
        "defaulted debtor's limits are already cut there; docs/DATA_LAYOUT.md), so at a "
        "past year-end they would know the future. The overlay takes `adv_` and `pay_` "
        "features only.",
        "",
        "## Data",
        "",
        f"Snapshots point in time (the engine's feature functions at each date): training "
        f"{', '.join(d['train'])} ({d['frequency']}); out-of-time validation "
        f"{d['validation']}. Label: an outcome within 12 months after the date. Out of "
        "a snapshot: debtors already defaulted, not yet incorporated, or in default by "
        "the engine's own definition at the date.",
        "",
        "| date | debtors | defaults | already defaulted | not incorporated | engine default |",
        "|---|---|---|---|---|---|",
    ]
    for r in s["snapshots"]:
        lines.append(f"| {r['as_of']} | {r['debtors']} | {r['defaults']} | "
                     f"{r.get('defaulted', 0)} | {r.get('not_incorporated', 0)} | "
                     f"{r.get('engine_default', 0)} |")
    lines += ["", f"Debtors rejected by validation (never rated): {s['rejected_debtors']}.",
              ""]
    if "note" in f:
        lines += [f"**Fallback:** {f['note']}.", ""]
    switched = f.get("transforms_switched", {})
    lines += ["## Overlay", "",
              "Weights are log odds per unit of the transformed feature. A transform "
              "differs from the committee's only when the book's log-likelihood gains more "
              f"than {TRANSFORM_MARGIN:g} with the other one (the term's prior then is the "
              "committee's weight translated to the same contribution at the cap).", "",
              "| term | transform | committee (prior) | estimate | 95 % CI | in force |",
              "|---|---|---|---|---|---|"]
    for t in fit.overlay.terms:
        ft = t.fit
        ci = f"[{ft.ci_low:.3f}, {ft.ci_high:.3f}]" if ft is not None else "n/a"
        est = f"{ft.estimate:.3f}" if ft is not None else "n/a"
        prior = t.prior_weight if t.prior_weight is not None else t.weight
        tr = t.transform
        if t.feature in switched:
            tr += (f" (committee: {switched[t.feature]['from']}; log-likelihood "
                   f"+{switched[t.feature]['loglik_gain']:.1f})")
        lines.append(f"| {t.feature} | {tr} | {prior:.3f} | {est} | {ci} | {t.weight:.3f} |")
    rc = f.get("recalibration")
    lines += ["", f"Basis priors: tax returns {fit.overlay.tax_return_pd:.4f}, no "
              f"financials {fit.overlay.no_financials_pd:.4f}."]
    if rc:
        lines.append(f"Statement recalibration: intercept {rc['intercept']:.4f}, slope "
                     f"{rc['slope']:.4f}.")
    lines += ["", f"## Out-of-time validation ({d['validation']})", "",
              "| engine | rows | defaults | AUC [95 % CI] | mean PD | default rate | "
              "calibration slope |", "|---|---|---|---|---|---|---|"]
    for name, x in (("fitted on the book", v), ("prior: US champion + committee", pv)):
        lines.append(f"| {name} | {x['rows']} | {x['defaults']} | {_f(x['auc'])} "
                     f"[{_f(x['auc_lo'])}, {_f(x['auc_hi'])}] | {_f(x['mean_pd'])} | "
                     f"{_f(x['default_rate'])} | {_f(x.get('calibration_slope'), 3)} |")
    rep = s.get("report")
    if rep:
        lines += ["", f"Jeffreys test per grade: calibration "
                  f"{'ok (no red grade)' if rep.get('calibration_ok') else 'NOT ok (a red grade)'}"
                  f"; PSI training vs validation {_f(rep.get('psi'))}; Brier "
                  f"{_f(rep.get('brier'))}. The full report (the one of `riskengine "
                  "validate`) is `validation/report.html`, figures in "
                  "`validation/metrics.json`."]
    else:
        lines += ["", "No validation report: the held-out year has no default (or only "
                  "defaults), so AUC and calibration are undefined."]
    lines.append("")
    return "\n".join(lines)
