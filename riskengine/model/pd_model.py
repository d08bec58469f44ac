"""The PD model: statement features -> calibrated, anchored, floored 12-month PD.

:class:`PDModel` is one scikit-learn estimator with two learner families:

- ``family="hgb"`` (the **champion**): a
  :class:`~sklearn.ensemble.HistGradientBoostingClassifier` whose
  ``monotonic_cst`` comes from the credit-logic direction of each feature
  (:func:`riskengine.features.statements.feature_directions`): more leverage
  never lowers the PD, more profitability never raises it; growth and other
  features without a prior stay unconstrained.
- ``family="logistic"`` (the **challenger**): a logistic regression on
  winsorised, standardised ratios (missing -> training median), i.e. a
  classical ratio scorecard with one coefficient per ratio.

Both share one PD chain, fitted in :meth:`PDModel.fit`:

1. **Cross-fitted calibration.** The training rows are split into ``cv``
   folds *by firm* (``groups``); a learner fitted on the other folds scores
   each fold, so every training row gets an out-of-fold score. The calibrator
   (Platt by default, :mod:`riskengine.model.calibration`) is fitted on these
   out-of-fold scores only, never on scores of rows the scoring learner saw.
   The final learner is then refitted on all training rows; its scores go
   through that calibrator (the ``ensemble=False`` scheme of scikit-learn's
   ``CalibratedClassifierCV``). The out-of-fold AUC (``oof_auc_``) is an honest
   in-sample-free figure used to choose hyperparameters without touching the
   validation split.
2. **Anchoring** to ``central_tendency`` (prior shift from the training default
   rate to the long-run default rate of the book).
3. **Floor** ``pd_floor`` (Basel 3.1 corporate floor, 0.05 %).

Scoring is vectorised and row-independent: a row's PD never depends on the
other rows of the batch (tests check single-row == batch).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from riskengine.errors import InvalidInputError
from riskengine.model.calibration import (
    PD_FLOOR,
    anchor_to_central_tendency,
    apply_floor,
    make_calibrator,
)

__all__ = ["PDModel", "PD_CEILING", "ARTIFACT_NAME"]

FloatArray = npt.NDArray[np.float64]

#: Highest PD the model returns: PDs lie in [pd_floor, PD_CEILING], strictly below 1.
PD_CEILING = 1.0 - 1e-6
#: File name of the shipped champion inside a model directory.
ARTIFACT_NAME = "pd_model.skops"

_FAMILIES = ("hgb", "logistic")


class PDModel(ClassifierMixin, BaseEstimator):
    """Calibrated 12-month PD model on statement features.

    Parameters
    ----------
    family : {"hgb", "logistic"}, default "hgb"
        Learner: monotone-constrained gradient boosting (champion) or logistic
        regression on winsorised ratios (challenger).
    directions : dict of str to int, optional
        Credit-logic direction of each feature (+1 higher raises the PD, -1
        lowers it, 0 unconstrained). ``family="hgb"`` turns it into
        ``monotonic_cst``; features not named are unconstrained. None: no
        constraint.
    fill_missing : tuple of str, optional
        Features whose missing values are replaced by their training median
        before scoring (history features - growth, trends - of a debtor with
        too few earlier statements). Other features keep NaN, which the
        gradient-boosting learner routes natively.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Gradient-boosting hyperparameters (no early stopping: the number of
        trees is a parameter, so a refit is reproducible).
    C : float, default 0.1
        Inverse L2 strength of the logistic challenger.
    winsor : float, default 0.01
        The logistic challenger clips each feature to its ``[winsor, 1 -
        winsor]`` training quantiles.
    calibration : {"platt", "isotonic"}, default "platt"
        Calibrator fitted on out-of-fold scores.
    cv : int, default 5
        Number of firm-grouped folds of the cross-fitted calibration.
    central_tendency : float or None, default 0.02
        Long-run default rate the PDs are anchored to; None keeps the
        training sample's rate.
    pd_floor : float, default 0.0005
        Lowest PD returned.
    random_state : int, default 0
        Seed of the learner and the fold shuffling.

    Attributes
    ----------
    feature_names_in_ : ndarray of str
        Feature columns, in order (a DataFrame with these columns is required
        at scoring; extra columns are ignored).
    n_features_in_ : int
    classes_ : ndarray
        ``[0, 1]``.
    estimator_ : estimator
        The learner refitted on all training rows.
    calibrator_ : PlattCalibrator or IsotonicCalibrator
        Fitted on the out-of-fold scores.
    monotonic_cst_ : ndarray of int
        The constraint of each feature (all 0 for the logistic family).
    reference_ : ndarray of float
        Training median of each feature (NaN-skipping): reference point of the
        reason codes and the fill value of ``fill_missing``.
    sample_default_rate_ : float
        Default rate of the training rows (anchoring's starting prior).
    oof_auc_ : float
        AUC of the out-of-fold scores (cross-validated by firm, training rows only).
    n_train_ : int
        Number of training rows.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"lev": rng.normal(size=400), "roa": rng.normal(size=400)})
    >>> y = (X["lev"] - X["roa"] + rng.normal(size=400) > 2).astype(int)
    >>> m = PDModel(directions={"lev": 1, "roa": -1}, max_iter=30, cv=3).fit(X, y)
    >>> p = m.predict_pd(X)
    >>> bool(p.min() >= 0.0005 and p.max() < 1)
    True
    """

    def __init__(
        self,
        *,
        family: str = "hgb",
        directions: dict[str, int] | None = None,
        fill_missing: tuple[str, ...] | None = None,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 8,
        min_samples_leaf: int = 80,
        l2_regularization: float = 1.0,
        C: float = 0.1,
        winsor: float = 0.01,
        calibration: str = "platt",
        cv: int = 5,
        central_tendency: float | None = 0.02,
        pd_floor: float = PD_FLOOR,
        random_state: int = 0,
    ) -> None:
        self.family = family
        self.directions = directions
        self.fill_missing = fill_missing
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.C = C
        self.winsor = winsor
        self.calibration = calibration
        self.cv = cv
        self.central_tendency = central_tendency
        self.pd_floor = pd_floor
        self.random_state = random_state

    # --- fitting ----------------------------------------------------------------

    def fit(self, X: Any, y: Any, groups: Any = None) -> PDModel:
        """Fit learner and cross-fitted calibrator.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n, p)
            Features (NaN allowed). Column names are kept when given.
        y : array-like of {0, 1}
            12-month default label.
        groups : array-like, optional
            Firm identifier of each row: folds never split a firm. Without it,
            stratified folds over rows (only for data with one row per firm).

        Returns
        -------
        PDModel
            ``self``, fitted.
        """
        if self.family not in _FAMILIES:
            raise InvalidInputError(
                f"PDModel: family must be one of {_FAMILIES}, got {self.family!r}."
            )
        names = (
            np.asarray([str(c) for c in X.columns], dtype=object)
            if isinstance(X, pd.DataFrame)
            else np.asarray([f"x{i}" for i in range(np.asarray(X).shape[1])], dtype=object)
        )
        A = _as_float(X)
        labels = np.asarray(y).ravel()
        if labels.shape[0] != A.shape[0]:
            raise InvalidInputError(f"PDModel.fit: {labels.shape[0]} labels for {A.shape[0]} rows.")
        classes = np.unique(labels)
        if classes.size != 2 or not np.isin(classes.astype(float), (0.0, 1.0)).all():
            raise InvalidInputError(
                f"PDModel.fit: the label must hold both 0 (no default) and 1 (default); "
                f"got classes {classes.tolist()}."
            )
        yi = labels.astype(np.int64)
        self.feature_names_in_ = names
        self.n_features_in_ = A.shape[1]
        self.classes_ = np.array([0, 1])
        with warnings.catch_warnings():  # an all-NaN column: median NaN, then 0
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = np.nanmedian(A, axis=0)
        self.reference_ = np.where(np.isnan(ref), 0.0, ref)
        fill = set(self.fill_missing or ())
        self.fill_mask_ = np.asarray([n in fill for n in names], dtype=bool)
        directions = self.directions or {}
        self.monotonic_cst_ = np.asarray(
            [int(directions.get(n, 0)) if self.family == "hgb" else 0 for n in names],
            dtype=np.int64,
        )
        A = self._fill(A)
        oof = self._out_of_fold(A, yi, groups)
        self.oof_auc_ = float(roc_auc_score(yi, oof))
        kind = {"score_kind": "logit"} if self.calibration == "platt" else {}
        self.calibrator_ = make_calibrator(self.calibration, **kind).fit(oof, yi)
        self.estimator_ = self._learner().fit(self._prep(A, fit=True), yi)
        self.sample_default_rate_ = float(yi.mean())
        self.n_train_ = int(yi.shape[0])
        return self

    def _learner(self) -> Any:
        if self.family == "hgb":
            return HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                monotonic_cst=self.monotonic_cst_.tolist(),
                early_stopping=False,
                random_state=self.random_state,
            )
        return LogisticRegression(C=self.C, max_iter=2000)

    def _prep(self, A: FloatArray, *, fit: bool = False) -> FloatArray:
        """Learner input: as is for HGB; winsorised, imputed, standardised for logistic."""
        if self.family == "hgb":
            return A
        if fit:
            with np.errstate(all="ignore"):
                lo = np.nanquantile(A, self.winsor, axis=0)
                hi = np.nanquantile(A, 1.0 - self.winsor, axis=0)
            self.clip_low_ = np.where(np.isnan(lo), 0.0, lo)
            self.clip_high_ = np.where(np.isnan(hi), 0.0, hi)
        B = np.clip(A, self.clip_low_, self.clip_high_)
        B = np.where(np.isnan(B), np.clip(self.reference_, self.clip_low_, self.clip_high_), B)
        if fit:
            self.mean_ = B.mean(axis=0)
            sd = B.std(axis=0)
            self.scale_ = np.where(sd > 0, sd, 1.0)
        out: FloatArray = (B - self.mean_) / self.scale_
        return out

    def _out_of_fold(self, A: FloatArray, y: npt.NDArray[np.int64], groups: Any) -> FloatArray:
        """Out-of-fold log-odds of every training row (folds by firm when ``groups``)."""
        if groups is not None:
            g = np.asarray(groups)
            splits = GroupKFold(n_splits=self.cv, shuffle=True, random_state=self.random_state)
            folds = splits.split(A, y, g)
        else:
            folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state).split(
                A, y
            )
        oof = np.empty(A.shape[0])
        for tr, te in folds:
            est = clone(self)
            est.reference_, est.fill_mask_ = self.reference_, self.fill_mask_
            est.monotonic_cst_ = self.monotonic_cst_
            learner = est._learner().fit(est._prep(A[tr], fit=True), y[tr])
            oof[te] = learner.decision_function(est._prep(A[te]))
        return oof

    # --- scoring ---------------------------------------------------------------

    def _fill(self, A: FloatArray) -> FloatArray:
        if not self.fill_mask_.any():
            return A
        return np.where(np.isnan(A) & self.fill_mask_, self.reference_, A)

    def _matrix(self, X: Any) -> FloatArray:
        """The fitted feature columns of ``X`` as floats (checked)."""
        check_is_fitted(self, "estimator_")
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.feature_names_in_ if c not in X.columns]
            if missing:
                raise InvalidInputError(
                    f"PDModel: feature column {missing[0]!r} is missing from the input "
                    f"({len(missing)} missing: {missing[:5]}). Build the features with the "
                    "statement pipeline the model was trained on.",
                    [{"table": "features", "record": "", "debtor_id": "", "column": c,
                      "value": "", "reason": "missing_column",
                      "message": "feature column missing"} for c in missing],
                )  # fmt: skip
            X = X[list(self.feature_names_in_)]
        A = _as_float(X)
        if A.shape[1] != self.n_features_in_:
            raise InvalidInputError(
                f"PDModel: the input has {A.shape[1]} feature columns; the model was "
                f"fitted on {self.n_features_in_}. Pass a DataFrame with the fitted columns."
            )
        return self._fill(A)

    def _score(self, A: FloatArray) -> FloatArray:
        """Log-odds of the learner on a prepared matrix (no calibration)."""
        out: FloatArray = np.asarray(self.estimator_.decision_function(self._prep(A)), float)
        return out

    def _pd_from_score(self, score: FloatArray, anchor: bool = True) -> FloatArray:
        p = self.calibrator_.predict(score)
        if anchor and self.central_tendency is not None:
            p = anchor_to_central_tendency(p, self.sample_default_rate_, self.central_tendency)
        out: FloatArray = np.minimum(apply_floor(p, self.pd_floor), PD_CEILING)
        return out

    def decision_function(self, X: Any) -> FloatArray:
        """Uncalibrated log-odds score of each row (higher = riskier)."""
        return self._score(self._matrix(X))

    def predict_pd(self, X: Any, *, anchor: bool = True) -> FloatArray:
        """12-month PD of each row, in ``[pd_floor, 1)``.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature frame with (at least) the fitted columns; NaN allowed.
        anchor : bool, default True
            False: the calibrated PD at the training sample's default rate
            (before anchoring; for calibration tests on a sample like it).

        Returns
        -------
        numpy.ndarray of float
            Calibrated, anchored and floored PD fractions.
        """
        return self._pd_from_score(self.decision_function(X), anchor)

    def predict_proba(self, X: Any) -> FloatArray:
        """``[1 - PD, PD]`` per row (scikit-learn convention)."""
        p = self.predict_pd(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> npt.NDArray[np.int64]:
        """1 where the PD exceeds 50 % (a default is more likely than not)."""
        return (self.predict_pd(X) > 0.5).astype(np.int64)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The single output, ``pd``."""
        return np.asarray(["pd"], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _as_float(X: Any) -> FloatArray:
    try:
        A = (
            X.to_numpy(dtype=np.float64, na_value=np.nan)
            if isinstance(X, pd.DataFrame)
            else np.asarray(X, dtype=np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"PDModel: features must be numeric ({exc}). Pass the feature frame built by "
            "the statement pipeline."
        ) from exc
    if A.ndim != 2:
        raise InvalidInputError(f"PDModel: features must be 2-D, got shape {A.shape}.")
    A = np.where(np.isinf(A), np.nan, A)
    return A
