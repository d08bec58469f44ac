"""Fitting the engine's PD on a book's own outcomes: the statement component and the overlay.

The model keeps the engine's one core unchanged::

    logit PD = statement component + sum_i w_i x_i      (x_i: the overlay's transforms)

- **Statement component.** For a debtor rated on statements: the logit of a statement
  PD model's PD, recalibrated on the book by an intercept and a slope, both fitted
  with the overlay weights (slope prior N(1, :data:`PRIOR_SD_SLOPE`^2)). The model is
  the shipped US champion (the prior) unless the training snapshots hold at least
  :data:`EVENTS_PER_FEATURE` defaults per statement feature among the statement-rated
  debtors; then a gradient-boosting model is refitted on the book's statement features
  with the monotone constraints the engine knows
  (:func:`riskengine.features.statements.feature_directions`), cross-fitted and
  Platt-calibrated like the champion (:class:`~riskengine.model.pd_model.PDModel`).
  The boosting learns the statements' effect alone, part of which the adverse and
  payment terms carry (a weakening firm files worse accounts *and* pays later), so its
  slope beside the overlay is fitted, not fixed at 1: one backfitting step on the log
  odds (the boosting itself takes no offset).
- **Tax returns** join the refit when they hold :data:`EVENTS_PER_FEATURE` defaults per
  feature a tax return carries (the income statement's: those not missing on every
  tax-return row); the overlay then says ``tax_return_model = true`` and the engine
  scores them by the model (:func:`riskengine.scoring.overlay.model_rated`). Otherwise,
  and for a debtor without usable statements, the component is the logit of the basis
  PD, shifted by one fitted log-odds term per basis.
- **Overlay weights** ``w_i >= 0`` are fitted in the same penalised logistic regression
  (:func:`riskengine.modeldev.glm.fit_logistic`), the basis priors entering as the
  offset, each weight with a Gaussian prior centred on the committee's weight
  (``riskengine/config/overlay.toml``): a thin book stays near the committee, a deep
  one moves to its own evidence (posterior mode; Gelman et al., *Bayesian Data
  Analysis*, 3rd ed., §16.2; Greenland, "Bayesian perspectives for epidemiological
  research II: regression analysis", Int. J. Epidemiol. 36 (2007) 195-202, who reads
  such a prior as prior data). The prior sd :data:`PRIOR_SD` = 0.5 log-odds per unit
  lets the book move a committee weight by a factor ``e^(2 x 0.5) = 2.7`` on the odds
  at the 95 % level before it must outweigh the committee.

Each term keeps the committee's transform (``linear`` or ``log1p``) unless the other one
fits the book clearly better (a log-likelihood gain above :data:`TRANSFORM_MARGIN`, the
term's prior left out of both fits; one pass, term by term); the switched term's prior
is the committee's weight translated to the same contribution at the term's cap.

The fitted pieces are baked into the engine's own artifacts: the statement model
becomes a :class:`~riskengine.model.pd_model.PDModel` whose Platt calibrator carries the
recalibration (``slope' = b a``, ``intercept' = c + b (a0 + shift)``; no anchoring, the
book's own level), and the overlay an :class:`~riskengine.scoring.overlay.Overlay` whose
terms carry ``weight`` (in force), ``prior_weight`` (committee) and ``fit``. Pure: no
I/O.

Minimum data: the refit threshold is the events-per-variable rule (Peduzzi et al.,
J. Clin. Epidemiol. 49 (1996) 1373-1379: 10 events per variable for a logistic model),
doubled to 20 for a tree ensemble, which needs more data than a logistic model (van der
Ploeg, Austin and Steyerberg, BMC Med. Res. Methodol. 14 (2014) 137). A training window
without any default fits nothing: the prior (US champion and committee overlay) is kept
and the card says so.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.features.statements import feature_directions
from riskengine.model.calibration import PlattCalibrator, logit
from riskengine.model.pd_model import PDModel
from riskengine.modeldev.glm import GlmFit, fit_logistic
from riskengine.modeldev.snapshots import Snapshot
from riskengine.scoring.inputs import DebtorInputs
from riskengine.scoring.overlay import Overlay, OverlayTerm, TermFit

__all__ = ["EVENTS_PER_FEATURE", "TRANSFORM_MARGIN", "PRIOR_SD", "PRIOR_SD_BASIS", "PRIOR_SD_SLOPE",
           "BookFit", "TrainingRows", "stack_snapshots", "statement_logit", "fit_book_model"]

FloatArray = npt.NDArray[np.float64]

#: Defaults per statement feature needed to refit the statement model on the book.
EVENTS_PER_FEATURE = 20
#: Prior sd of each overlay weight around the committee's weight (log odds per unit).
PRIOR_SD = 0.5
#: Prior sd of the log-odds shift of a basis prior PD (tax returns, no financials).
PRIOR_SD_BASIS = 0.5
#: Log-likelihood gain needed to replace the committee's transform of a term by the other
#: one (same number of parameters, so the likelihoods compare directly). Two transforms
#: of a narrow feature are nearly collinear and chance alone moves their difference by a
#: few units (3.4 in favour of log1p on 60,000 rows whose dilution effect is linear,
#: tests/test_book_model.py), so the margin is 10 (the book's days beyond terms gained 47).
TRANSFORM_MARGIN = 10.0
#: Prior sd of the champion's recalibration slope around 1.
PRIOR_SD_SLOPE = 0.5

_METHOD = (f"penalised logistic regression, Gaussian prior N(committee weight, "
           f"{PRIOR_SD}^2), weight >= 0, statement component as offset "
           "(riskengine.modeldev.glm)")


@dataclass(frozen=True)
class TrainingRows:
    """Training snapshots stacked: one row per debtor and date."""

    inputs: DebtorInputs
    label: npt.NDArray[np.int8]
    as_of: npt.NDArray[np.str_]

    @property
    def n_events(self) -> int:
        return int(self.label.sum())


@dataclass(frozen=True)
class BookFit:
    """A fitted book model: the engine's two artifacts and how they were fitted.

    Attributes
    ----------
    model : PDModel
        The statement model with the book's recalibration in its calibrator.
    overlay : Overlay
        The fitted overlay (terms with ``prior_weight`` and ``fit``; basis priors).
    statement_method : str
        ``"refit"`` (gradient boosting on the book), ``"prior"`` (the champion,
        recalibrated) or ``"prior_unchanged"`` (no default: nothing fitted).
    glm : GlmFit or None
    columns : list of str
        The regression's columns, in ``glm.coef`` order.
    facts : dict
        Rows, events, thresholds, the recalibration (for the card and metadata).
    """

    model: PDModel
    overlay: Overlay
    statement_method: str
    glm: GlmFit | None
    columns: list[str]
    facts: dict[str, Any] = field(default_factory=dict)


def _concat(parts: list[DebtorInputs]) -> DebtorInputs:
    first = parts[0]
    arrays: dict[str, Any] = {
        name: np.concatenate([getattr(p, name) for p in parts])
        for name in DebtorInputs.__dataclass_fields__
        if isinstance(getattr(first, name), np.ndarray)}
    return dataclasses.replace(first, **arrays)


def stack_snapshots(snapshots: list[Snapshot]) -> TrainingRows:
    """The snapshots as one set of rows (dates kept per row)."""
    return TrainingRows(
        _concat([s.inputs for s in snapshots]),
        np.concatenate([s.label for s in snapshots]).astype(np.int8),
        np.concatenate([np.full(len(s.label), s.as_of) for s in snapshots]))


def statement_logit(model: PDModel, X: Any) -> FloatArray:
    """The log odds of ``model``'s PD before its floor: ``a score + a0 (+ anchoring shift)``.

    Raises
    ------
    ValueError
        The model's calibrator is not a Platt calibrator on the score's log odds (the
        only calibrator whose recalibration stays a Platt calibrator).
    """
    cal = model.calibrator_
    if not isinstance(cal, PlattCalibrator) or cal.score_kind != "logit":
        raise ValueError("the statement model's calibrator must be Platt on log odds "
                         f"(score_kind='logit'); got {type(cal).__name__}.")
    score = model.decision_function(X)
    out: FloatArray = cal.slope_ * score + cal.intercept_ + _anchor_shift(model)
    return out


def _anchor_shift(model: PDModel) -> float:
    ct = model.central_tendency
    if ct is None:
        return 0.0
    dr = float(model.sample_default_rate_)
    return float(np.log(ct / (1 - ct)) - np.log(dr / (1 - dr)))


def _recalibrated(model: PDModel, intercept: float, slope: float) -> PDModel:
    """``model`` whose PD log odds become ``intercept + slope * statement_logit``."""
    cal = model.calibrator_
    new = copy.deepcopy(model)
    platt = PlattCalibrator(score_kind="logit", C=cal.C)
    platt.slope_ = float(slope * cal.slope_)
    platt.intercept_ = float(intercept + slope * (cal.intercept_ + _anchor_shift(model)))
    platt.n_features_in_ = 1
    new.calibrator_ = platt
    new.central_tendency = None
    return new


def _refit(prior: PDModel, X: pd.DataFrame, y: npt.NDArray[np.int8], groups: Any,
           random_state: int) -> PDModel:
    """The gradient-boosting statement model refitted on the book (the champion's
    hyperparameters and features, the engine's monotone constraints, 3 folds)."""
    params = prior.get_params()
    params.update(family="hgb", directions=feature_directions(), central_tendency=None,
                  cv=3, random_state=random_state)
    return PDModel(**params).fit(X, y, groups=groups)


def unit_transforms(overlay: Overlay, X: FloatArray) -> FloatArray:
    """The overlay's transformed features ``x_i`` (its own transforms, weight 1)."""
    unit = dataclasses.replace(overlay, terms=tuple(
        dataclasses.replace(t, weight=1.0) for t in overlay.terms))
    return unit.contributions(X)


def fit_book_model(prior_model: PDModel, committee: Overlay, rows: TrainingRows, *,
                   data: str, as_of: str, random_state: int = 0,
                   events_per_feature: int = EVENTS_PER_FEATURE) -> BookFit:
    """Fit the statement component and the overlay weights on stacked training rows.

    Parameters
    ----------
    prior_model : PDModel
        The shipped champion (the prior statement model).
    committee : Overlay
        The committee overlay (prior weights, basis priors, default definition).
    rows : TrainingRows
    data : str
        One line naming the sample (book, dates, rows), recorded in each term's fit.
    as_of : str
        The book's as-of date (the overlay's provenance).
    random_state : int
    events_per_feature : int

    Returns
    -------
    BookFit
    """
    deb = rows.inputs
    y = rows.label.astype(np.float64)
    n, events = int(y.size), int(y.sum())
    stmt = deb.basis == 0
    names = list(prior_model.feature_names_in_)
    p = len(names)
    stmt_events = int(y[stmt].sum())
    facts: dict[str, Any] = {
        "rows": n, "events": events, "statement_rows": int(stmt.sum()),
        "statement_events": stmt_events, "statement_features": p,
        "events_per_feature": events_per_feature,
        "refit_threshold": events_per_feature * p, "prior_sd": PRIOR_SD,
        "prior_sd_basis": PRIOR_SD_BASIS, "prior_sd_slope": PRIOR_SD_SLOPE,
        "dates": sorted(set(rows.as_of.tolist()))}
    if events == 0:
        facts["note"] = ("no default in the training window: nothing is fitted; the prior "
                         "(US champion and committee overlay) is kept")
        return BookFit(prior_model, committee, "prior_unchanged", None, [], facts)

    refit = 0 < stmt_events < int(stmt.sum()) and stmt_events >= events_per_feature * p
    tax = deb.basis == 1
    # tax returns join a refit when they hold enough defaults for the features a tax
    # return carries (those not missing on every tax-return row: the income statement)
    p_tax = int(np.isfinite(deb.st_X[tax]).any(axis=0).sum()) if tax.any() else 0
    tax_events = int(y[tax].sum())
    tax_model = refit and p_tax > 0 and tax_events >= events_per_feature * p_tax
    facts.update(tax_return_rows=int(tax.sum()), tax_return_events=tax_events,
                 tax_return_features=p_tax, tax_return_model=tax_model)
    fitted = stmt | (tax & tax_model)  # the rows the statement model scores
    X = pd.DataFrame(deb.st_X[fitted], columns=names)
    # folds by debtor (its rows of several dates never split), on integer codes: fast
    groups = pd.factorize(deb.debtor_id[fitted])[0]
    base = _refit(prior_model, X, rows.label[fitted], groups, random_state) \
        if refit else prior_model
    s = np.zeros(n)
    if fitted.any():
        s[fitted] = statement_logit(base, X)

    nofin = deb.basis == 2
    tax = tax & ~fitted  # a tax return the model scores takes no basis prior
    basis_logit = np.where(tax, logit(committee.tax_return_pd),
                           np.where(nofin, logit(committee.no_financials_pd), 0.0))
    cols = {"statement_intercept": fitted.astype(float)}
    mean, sd, lower = [0.0], [math.inf], [-math.inf]
    # the statement component's slope is fitted with the overlay (both models: the
    # refitted one learnt the statement features' effect alone, part of which the
    # adverse and payment terms carry: its partial effect beside them is below 1)
    cols["statement_slope"] = np.where(fitted, s, 0.0)
    mean.append(1.0)
    sd.append(PRIOR_SD_SLOPE)
    lower.append(0.0)
    cols["tax_return_shift"] = tax.astype(float)
    cols["no_financials_shift"] = nofin.astype(float)
    mean += [0.0, 0.0]
    sd += [PRIOR_SD_BASIS, PRIOR_SD_BASIS]
    lower += [-math.inf, -math.inf]
    U = unit_transforms(committee, deb.overlay_X)
    for j, t in enumerate(committee.terms):
        cols[t.feature] = U[:, j]
        mean.append(t.weight)
        sd.append(PRIOR_SD)
        lower.append(0.0)
    offset = basis_logit
    D = np.column_stack(list(cols.values()))

    def fit_with(D: FloatArray, sd: list[float]) -> GlmFit:
        return fit_logistic(D, y, offset=offset, fit_intercept=False, lower=lower,
                            prior_mean=mean, prior_sd=sd)

    k0 = len(cols) - len(committee.terms)
    # each term's transform: the committee's, unless the other one fits the book clearly
    # better (one pass, term by term, the term's own prior left out of both fits so that
    # the data alone decide; the same number of parameters, so the likelihoods compare
    # directly; the margin keeps the committee's choice on thin evidence)
    chosen = list(committee.terms)
    switched: dict[str, float] = {}
    for j, t in enumerate(committee.terms):
        alt = _other_transform(t)
        col = unit_transforms(dataclasses.replace(committee, terms=(alt,)),
                              deb.overlay_X[:, [j]])[:, 0]
        if alt is t or not np.any(col != D[:, k0 + j]) or not np.any(col != 0):
            continue
        D_alt = D.copy()
        D_alt[:, k0 + j] = col
        free = list(sd)
        free[k0 + j] = math.inf
        gain = fit_with(D_alt, free).loglik - fit_with(D, free).loglik
        if gain > TRANSFORM_MARGIN:
            switched[t.feature] = gain
            D, chosen[j], mean[k0 + j] = D_alt, alt, alt.weight
    glm = fit_with(D, sd)
    coef = dict(zip(cols, glm.coef.tolist(), strict=True))
    slope = coef.get("statement_slope", 1.0)
    model = _recalibrated(base, coef["statement_intercept"], slope)

    terms = []
    for j, t in enumerate(chosen):
        i = k0 + j
        est = float(glm.coef[i])
        method = _METHOD
        if t.feature in switched:
            method += (f"; transform {t.transform} chosen by the book over the committee's "
                       f"{committee.terms[j].transform} (log-likelihood +"
                       f"{switched[t.feature]:.1f}), prior = the committee's weight "
                       "translated to equal contribution at the cap")
        fit = TermFit(est, max(float(glm.ci_low[i]), 0.0), max(float(glm.ci_high[i]), est),
                      method, data, n_obs=n, n_events=events)
        terms.append(dataclasses.replace(t, weight=est, prior_weight=t.weight, fit=fit))
    facts["transforms_switched"] = {f: {"from": committee.terms[committee.features.index(f)]
                                         .transform, "loglik_gain": g}
                                    for f, g in switched.items()}
    ov = dataclasses.replace(
        committee, version=f"{committee.version}+book.{as_of}", terms=tuple(terms),
        tax_return_model=tax_model,
        tax_return_pd=_shift(committee.tax_return_pd, coef["tax_return_shift"]),
        no_financials_pd=_shift(committee.no_financials_pd, coef["no_financials_shift"]),
        provenance=tuple(sorted({
            "method": _METHOD, "data": data, "as_of": as_of,
            "model": "refit on the book (gradient boosting, monotone)" if refit
            else "US champion recalibrated on the book",
            "reference": "Gelman et al., Bayesian Data Analysis (3rd ed.), 16.2; "
                         "Greenland, Int. J. Epidemiol. 36 (2007) 195-202"}.items())))
    facts.update(recalibration={"intercept": coef["statement_intercept"], "slope": slope},
                 basis_shift={"tax_return": coef["tax_return_shift"],
                              "no_financials": coef["no_financials_shift"]},
                 coefficients={c: {"estimate": float(glm.coef[i]), "se": float(glm.se[i]),
                                   "ci_low": float(glm.ci_low[i]),
                                   "ci_high": float(glm.ci_high[i]),
                                   "prior_mean": mean[i], "prior_sd": sd[i]}
                               for i, c in enumerate(cols)},
                 loglik=glm.loglik, converged=glm.converged)
    if refit:
        facts["refit_oof_auc"] = float(base.oof_auc_)
    return BookFit(model, ov, "refit" if refit else "prior", glm, list(cols), facts)


def _other_transform(t: OverlayTerm) -> OverlayTerm:
    """The term on the other transform (linear <-> log1p, same cap), its weight the
    committee's translated so that both give the same contribution at the cap."""
    cap = t.cap if math.isfinite(t.cap) else None
    if t.transform == "linear":
        if cap is None:
            return t
        w = t.weight * (cap / t.scale) / math.log1p(cap)
        return dataclasses.replace(t, transform="log1p", weight=w, scale=1.0)
    if cap is None:
        return t
    return dataclasses.replace(t, transform="linear", scale=1.0,
                               weight=t.weight * math.log1p(cap) / cap)


def _shift(pd_: float, delta: float) -> float:
    z = math.log(pd_ / (1 - pd_)) + delta
    return float(1.0 / (1.0 + math.exp(-z)))
