"""From a model score to a 12-month PD: calibration, central-tendency anchoring, floor.

Three steps, in this order (each a small pure function or estimator):

1. **Out-of-sample calibration** of the raw score to a PD on rows the scoring
   model did not see (the validation split, or out-of-fold predictions):
   :class:`PlattCalibrator` (logistic regression on the score's log-odds) or
   :class:`IsotonicCalibrator` (monotone step function).
2. **Anchoring** to a long-run central tendency (the expected default rate of the
   portfolio the model is used on): :func:`anchor_to_central_tendency`.
3. **Floor**: :func:`apply_floor` (Basel 3.1 corporate PD floor 0.05 %).

Choice of calibrator
--------------------
Platt scaling is riskengine's default. It has two parameters, so it is stable
with the few hundred defaults of a credit sample; it is strictly monotone, so it
keeps the ranking (and the AUC) of the score and never ties two debtors that the
model separates — essential for a master scale with 10 grades. Isotonic
regression is non-parametric and can fix a non-logistic miscalibration, but with
few defaults it is a step function with wide flat steps (many debtors share one
PD, so whole grades collapse) and it overfits the calibration sample. Both are
exposed; the validation report's calibration-by-grade table decides.

Both follow the scikit-learn estimator contract: ``__init__`` only stores its
arguments, learned state ends in ``_``, ``predict`` is guarded by
``check_is_fitted``. They take a single score column (1-D, or 2-D with one column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from riskengine.errors import InvalidInputError

__all__ = [
    "PD_FLOOR",
    "PlattCalibrator",
    "IsotonicCalibrator",
    "make_calibrator",
    "anchor_to_central_tendency",
    "apply_floor",
    "logit",
]

PD_FLOOR = 0.0005
"""Basel 3.1 corporate PD floor (CRE32 / CRR3 art. 160(1)); it was 0.03 % before."""

_EPS = 1e-9


def logit(p: Any) -> npt.NDArray[np.float64]:
    """Log-odds ``ln(p / (1 - p))`` with ``p`` clipped to ``[1e-9, 1 - 1e-9]``.

    Examples
    --------
    >>> float(logit(0.5))
    0.0
    """
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1.0 - _EPS)
    return np.log(q) - np.log1p(-q)


def _score_column(X: Any, name: str) -> npt.NDArray[np.float64]:
    arr = np.asarray(X, dtype=float)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} takes a single score column (1-D, or 2-D with one column); got shape "
            f"{arr.shape}. Pass the model's score or probability only."
        )
    if not np.isfinite(arr).all():
        pos = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(
            f"{name}: score at position {pos} is {arr[pos]!r}; scores must be finite "
            "(impute or drop unrated rows before calibration)."
        )
    return arr


def _labels(y: Any, n: int, name: str) -> npt.NDArray[np.int64]:
    arr = np.asarray(y).ravel()
    if arr.shape[0] != n:
        raise ValueError(f"{name}: {arr.shape[0]} labels for {n} scores.")
    as_float = arr.astype(float)
    if not np.isin(as_float, (0.0, 1.0)).all():
        bad = arr[~np.isin(as_float, (0.0, 1.0))][0]
        raise ValueError(f"{name}: default labels must be 0 or 1, got {bad!r}.")
    if np.unique(as_float).size < 2:
        raise ValueError(
            f"{name}: the calibration sample holds only one class; it needs defaults "
            "and non-defaults."
        )
    return as_float.astype(np.int64)


class PlattCalibrator(BaseEstimator):
    """Platt scaling: ``PD = 1 / (1 + exp(-(a * z + b)))`` on the score's log-odds ``z``.

    Parameters
    ----------
    score_kind : {"probability", "logit"}, default "probability"
        ``"probability"``: the input is an uncalibrated probability in [0, 1] and
        ``z = logit(score)``; ``"logit"``: the input is already a log-odds/margin.
    C : float, default 1e6
        Inverse L2 strength of the logistic fit (large = unpenalised).

    Attributes
    ----------
    slope_, intercept_ : float
        ``a`` and ``b``. A slope below 1 means the raw score was over-confident.
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9]); y = np.array([0, 0, 1, 0, 1, 1])
    >>> cal = PlattCalibrator().fit(s, y)
    >>> bool(np.all(np.diff(cal.predict(np.sort(s))) > 0))
    True
    """

    def __init__(self, score_kind: str = "probability", C: float = 1e6) -> None:
        self.score_kind = score_kind
        self.C = C

    def _z(self, X: Any) -> npt.NDArray[np.float64]:
        s = _score_column(X, type(self).__name__)
        if self.score_kind == "probability":
            return logit(s)
        if self.score_kind == "logit":
            return s
        raise ValueError(
            f"score_kind must be 'probability' or 'logit', got {self.score_kind!r}."
        )

    def fit(self, X: Any, y: Any) -> PlattCalibrator:
        """Fit ``a`` and ``b`` on out-of-sample scores ``X`` and default labels ``y``."""
        z = self._z(X)
        labels = _labels(y, z.shape[0], type(self).__name__)
        lr = LogisticRegression(C=self.C, max_iter=1000)
        lr.fit(z.reshape(-1, 1), labels)
        self.slope_ = float(lr.coef_[0, 0])
        self.intercept_ = float(lr.intercept_[0])
        self.n_features_in_ = 1
        return self

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        """Calibrated PD of each score (fractions in (0, 1))."""
        if not hasattr(self, "intercept_"):  # cheap test first; sklearn's error if unfitted
            check_is_fitted(self, ("slope_", "intercept_"))
        eta = self.slope_ * self._z(X) + self.intercept_
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-eta))
        return out

    def transform(self, X: Any) -> npt.NDArray[np.float64]:
        """Same as :meth:`predict`, as one column (for use inside a Pipeline)."""
        return self.predict(X).reshape(-1, 1)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The single output column, ``pd``."""
        return np.asarray(["pd"], dtype=object)


class IsotonicCalibrator(BaseEstimator):
    """Isotonic (monotone non-decreasing) calibration of a score to a PD.

    Parameters
    ----------
    y_min : float, default 1e-6
        Lowest PD returned (keeps the odds finite for anchoring; the regulatory
        floor is applied later by :func:`apply_floor`).
    y_max : float, default 1 - 1e-6
        Highest PD returned.

    Attributes
    ----------
    isotonic_ : sklearn.isotonic.IsotonicRegression
        The fitted step function (scores outside the fitted range are clipped).
    n_features_in_ : int
        Always 1.

    Examples
    --------
    >>> import numpy as np
    >>> cal = IsotonicCalibrator().fit([1, 2, 3, 4], [0, 1, 0, 1])
    >>> cal.predict([1, 2.5, 4]).tolist()
    [1e-06, 0.5, 0.999999]
    """

    def __init__(self, y_min: float = 1e-6, y_max: float = 1.0 - 1e-6) -> None:
        self.y_min = y_min
        self.y_max = y_max

    def fit(self, X: Any, y: Any) -> IsotonicCalibrator:
        """Fit the step function on out-of-sample scores ``X`` and labels ``y``."""
        s = _score_column(X, type(self).__name__)
        labels = _labels(y, s.shape[0], type(self).__name__)
        iso = IsotonicRegression(
            y_min=self.y_min, y_max=self.y_max, increasing=True, out_of_bounds="clip"
        )
        iso.fit(s, labels.astype(float))
        self.isotonic_ = iso
        self.n_features_in_ = 1
        return self

    def predict(self, X: Any) -> npt.NDArray[np.float64]:
        """Calibrated PD of each score."""
        check_is_fitted(self, "isotonic_")
        out = np.asarray(self.isotonic_.predict(_score_column(X, type(self).__name__)), float)
        return np.clip(out, self.y_min, self.y_max)

    def transform(self, X: Any) -> npt.NDArray[np.float64]:
        """Same as :meth:`predict`, as one column."""
        return self.predict(X).reshape(-1, 1)

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """The single output column, ``pd``."""
        return np.asarray(["pd"], dtype=object)


def make_calibrator(method: str = "platt", **kwargs: Any) -> PlattCalibrator | IsotonicCalibrator:
    """An unfitted calibrator by name: ``"platt"`` (default) or ``"isotonic"``."""
    if method == "platt":
        return PlattCalibrator(**kwargs)
    if method == "isotonic":
        return IsotonicCalibrator(**kwargs)
    raise ValueError(f"calibration method must be 'platt' or 'isotonic', got {method!r}.")


def _rate(value: float, name: str) -> float:
    v = float(value)
    if not (0.0 < v < 1.0):
        raise InvalidInputError(
            f"{name} = {value!r}: a default rate must be a fraction strictly between 0 and 1 "
            "(e.g. 0.02 for 2 %), not a percent.",
            [{"table": "calibration", "record": "", "debtor_id": "", "column": name,
              "value": repr(value), "reason": "out_of_range",
              "message": "default rate must be in (0, 1)"}],
        )
    return v


def anchor_to_central_tendency(
    pd: Any, sample_default_rate: float, central_tendency: float
) -> npt.NDArray[np.float64]:
    """Shift calibrated PDs from the sample's default rate to a long-run central tendency.

    ``odds_new = odds(pd) * [CT / (1 - CT)] / [DR / (1 - DR)]``, ``pd_new =
    odds_new / (1 + odds_new)``.

    Parameters
    ----------
    pd : array-like of float
        PDs calibrated on a sample whose default rate is ``sample_default_rate``.
    sample_default_rate : float
        DR, the default rate of the calibration sample, in (0, 1).
    central_tendency : float
        CT, the long-run average default rate of the target portfolio, in (0, 1).

    Returns
    -------
    numpy.ndarray of float
        Anchored PDs; NaN stays NaN, 0 stays 0 and 1 stays 1.

    Notes
    -----
    This is Bayes' rule with a changed prior: the likelihood ratio of the
    debtor's features, P(x | default) / P(x | no default), is kept, and the
    prior odds DR/(1−DR) of the sample are replaced by the prior odds CT/(1−CT)
    of the portfolio (Elkan 2001, "The foundations of cost-sensitive
    learning"; the standard "prior shift" of PD calibration). It keeps the
    ranking of debtors; the portfolio mean PD lands near CT, not exactly on it.

    Hand calculation (tests/test_calibration.py): DR = 5 %, CT = 2 %, pd = 5 %:
    odds(pd) = 0.05/0.95 = 0.0526316; factor = (0.02/0.98) / (0.05/0.95)
    = 0.0204082 / 0.0526316 = 0.387755; odds_new = 0.0204082, so pd_new =
    0.0204082 / 1.0204082 = 0.02 exactly (a PD equal to the sample rate moves to CT).
    pd = 10 %: odds 0.111111 × 0.387755 = 0.0430839 -> pd_new = 0.0413043.

    Examples
    --------
    >>> round(float(anchor_to_central_tendency(0.05, 0.05, 0.02)), 10)
    0.02
    """
    dr = _rate(sample_default_rate, "sample_default_rate")
    ct = _rate(central_tendency, "central_tendency")
    p = np.asarray(pd, dtype=float)
    factor = (ct / (1.0 - ct)) / (dr / (1.0 - dr))
    # pd_new = f*p / (1 - p + f*p): the odds form without dividing by (1 - p)
    with np.errstate(invalid="ignore"):
        out: npt.NDArray[np.float64] = factor * p / (1.0 - p + factor * p)
    return out


def apply_floor(pd: Any, floor: float = PD_FLOOR) -> npt.NDArray[np.float64]:
    """Raise every PD below ``floor`` to ``floor`` (Basel 3.1 corporate PD floor 0.05 %).

    Parameters
    ----------
    pd : array-like of float
        PD fractions.
    floor : float, default 0.0005
        In [0, 1).

    Returns
    -------
    numpy.ndarray of float
        ``max(pd, floor)``; NaN stays NaN (it is never turned into a PD).

    Examples
    --------
    >>> apply_floor([0.0001, 0.01, float("nan")]).tolist()
    [0.0005, 0.01, nan]
    """
    f = float(floor)
    if not (0.0 <= f < 1.0):
        raise InvalidInputError(
            f"floor = {floor!r}: the PD floor must be a fraction in [0, 1) (0.0005 = 0.05 %).",
            [{"table": "calibration", "record": "", "debtor_id": "", "column": "floor",
              "value": repr(floor), "reason": "out_of_range",
              "message": "floor must be in [0, 1)"}],
        )
    p = np.asarray(pd, dtype=float)
    out: npt.NDArray[np.float64] = np.maximum(p, f)  # np.maximum propagates NaN
    return out
