"""The overlay: adverse-record and payment-behaviour terms on the PD's log-odds, the
rating-basis priors and the default definition (``riskengine/config/overlay.toml``).

``logit(PD) = logit(PD_model) + sum_i w_i x_i`` with ``w_i >= 0`` and
non-decreasing transforms of adverse-record counts and payment-behaviour
features (``riskengine/config/overlay.toml``, versioned). A missing feature adds
0. Adding an adverse record never lowers the PD. The decision core
(:mod:`riskengine.scoring.core`) adds the contributions; this module holds the
validated value and its arrays. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.errors import PolicyError
from riskengine.scoring.reasons import ReasonWords, reason_words

__all__ = ["TermFit", "OverlayTerm", "Overlay", "model_rated"]

FloatArray = npt.NDArray[np.float64]
_TRANSFORMS = ("linear", "log1p")
_FIT_NUMBERS = ("estimate", "ci_low", "ci_high")
_FIT_COUNTS = ("n_obs", "n_events")
_FIT_TEXTS = ("method", "data")
_PROVENANCE = ("method", "data", "as_of", "model", "reference")


@dataclass(frozen=True, slots=True)
class TermFit:
    """How a term's weight was estimated: the estimate, its confidence interval and data.

    ``ci_low``/``ci_high`` bound the weight (log odds per unit of the transformed
    feature); ``method`` names the estimator and ``data`` the sample (rows, years).
    The weight in force may differ from ``estimate`` (e.g. shrunk towards the prior,
    or a prior kept because the estimate is not significant); the term says which.
    """

    estimate: float
    ci_low: float
    ci_high: float
    method: str
    data: str
    n_obs: int = 0
    n_events: int = 0

    @classmethod
    def from_dict(cls, key: str, spec: Mapping[str, Any]) -> TermFit:
        known = set(_FIT_NUMBERS) | set(_FIT_COUNTS) | set(_FIT_TEXTS)
        bad = sorted(set(spec) - known)
        if bad:
            raise PolicyError(f"overlay {key}: unknown key {bad[0]!r}.", key=f"{key}.{bad[0]}")
        for name in (*_FIT_NUMBERS, *_FIT_TEXTS):
            if name not in spec:
                raise PolicyError(f"overlay {key}.{name} is missing.", key=f"{key}.{name}")
        lo, est, hi = (float(spec[n]) for n in ("ci_low", "estimate", "ci_high"))
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= est <= hi):
            raise PolicyError(f"overlay {key}: need ci_low <= estimate <= ci_high, got "
                              f"{lo!r}, {est!r}, {hi!r}.", key=f"{key}.estimate")
        return cls(est, lo, hi, str(spec["method"]), str(spec["data"]),
                   int(spec.get("n_obs", 0)), int(spec.get("n_events", 0)))

    def to_dict(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "method": self.method, "data": self.data, "n_obs": self.n_obs,
                "n_events": self.n_events}


@dataclass(frozen=True, slots=True)
class OverlayTerm:
    """One overlay term: ``weight * transform(clip(feature, 0, cap))``."""

    feature: str
    weight: float
    transform: str = "linear"
    cap: float = math.inf
    scale: float = 1.0
    label: str = ""
    prior_weight: float | None = None
    fit: TermFit | None = None


@dataclass(frozen=True, slots=True)
class Overlay:
    """Adverse/payment overlay, rating-basis priors and default definition.

    Attributes
    ----------
    version : str
    terms : tuple of OverlayTerm
        Non-negative weights on non-decreasing transforms (monotone overlay).
    max_statement_age_days : int
        An older latest statement does not rate the debtor (basis ``no_financials``).
    no_financials_pd, tax_return_pd : float
        PD priors of the two other bases, in (0, 1).
    tax_return_model : bool
        True: a debtor rated on a tax return is scored by the PD model on its tax
        return's features (the income statement; the balance-sheet ones missing)
        instead of ``tax_return_pd``. Only for a model fitted on tax returns
        (``riskengine train --portfolio``); the shipped US champion never saw one.
    days_past_due : int
        Past-due days beyond which a material amount means default (CRR art. 178).
    materiality_absolute, materiality_relative : float
        The past-due amount must exceed both (absolute money; share of the open balance).
    """

    version: str
    terms: tuple[OverlayTerm, ...]
    max_statement_age_days: int = 731
    no_financials_pd: float = 0.05
    tax_return_pd: float = 0.03
    tax_return_model: bool = False
    days_past_due: int = 90
    materiality_absolute: float = 500.0
    materiality_relative: float = 0.01
    provenance: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        from riskengine.features import adverse, payments

        known = set(adverse.ADVERSE_FEATURES) | set(payments.PAYMENT_FEATURES)
        seen: set[str] = set()
        for t in self.terms:
            key = f"terms.{t.feature}"
            if t.feature not in known:
                raise PolicyError(f"overlay {key}: unknown feature {t.feature!r}; use an "
                                  "adv_ or pay_ feature.", key=key)
            if t.feature in seen:
                raise PolicyError(f"overlay {key}: feature given twice.", key=key)
            seen.add(t.feature)
            if not (math.isfinite(t.weight) and t.weight >= 0):
                raise PolicyError(f"overlay {key}.weight = {t.weight!r}: weights must be "
                                  "finite and >= 0 (the overlay is monotone).",
                                  key=f"{key}.weight")
            if t.prior_weight is not None and not (math.isfinite(t.prior_weight)
                                                   and t.prior_weight >= 0):
                raise PolicyError(f"overlay {key}.prior_weight = {t.prior_weight!r}: must be "
                                  "finite and >= 0.", key=f"{key}.prior_weight")
            if t.transform not in _TRANSFORMS:
                raise PolicyError(f"overlay {key}.transform = {t.transform!r}: use one of "
                                  f"{_TRANSFORMS}.", key=f"{key}.transform")
            if not t.cap > 0:
                raise PolicyError(f"overlay {key}.cap = {t.cap!r}: must be > 0.",
                                  key=f"{key}.cap")
            if not (math.isfinite(t.scale) and t.scale > 0):
                raise PolicyError(f"overlay {key}.scale = {t.scale!r}: must be > 0.",
                                  key=f"{key}.scale")
        for name in ("no_financials_pd", "tax_return_pd", "materiality_relative"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise PolicyError(f"overlay {name} = {v!r}: must be a fraction in (0, 1).",
                                  key=name)
        if not isinstance(self.tax_return_model, bool):
            raise PolicyError(f"overlay basis.tax_return_model = {self.tax_return_model!r}: "
                              "must be true or false.", key="basis.tax_return_model")
        if self.max_statement_age_days < 0 or self.days_past_due < 0 \
                or self.materiality_absolute < 0:
            raise PolicyError("overlay: days and materiality must be >= 0.",
                              key="default_definition")

    @property
    def features(self) -> tuple[str, ...]:
        """The features of the terms, in order."""
        return tuple(t.feature for t in self.terms)

    def to_dict(self) -> dict[str, Any]:
        """The TOML layout of ``overlay.toml``; ``Overlay.from_dict(o.to_dict()) == o``."""
        terms: dict[str, Any] = {}
        for t in self.terms:
            spec: dict[str, Any] = {"label": t.label, "weight": t.weight,
                                    "transform": t.transform, "cap": t.cap, "scale": t.scale}
            if t.prior_weight is not None:
                spec["prior_weight"] = t.prior_weight
            if t.fit is not None:
                spec["fit"] = t.fit.to_dict()
            terms[t.feature] = spec
        out: dict[str, Any] = {
            "version": self.version,
            "basis": {"max_statement_age_days": self.max_statement_age_days,
                      "no_financials_pd": self.no_financials_pd,
                      "tax_return_pd": self.tax_return_pd,
                      "tax_return_model": self.tax_return_model},
            "default_definition": {"days_past_due": self.days_past_due,
                                   "materiality_absolute": self.materiality_absolute,
                                   "materiality_relative": self.materiality_relative},
            "terms": terms}
        if self.provenance:
            out["provenance"] = dict(self.provenance)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Overlay:
        """Build from the TOML layout of ``overlay.toml`` (unknown keys refused)."""
        allowed = {"version", "basis", "default_definition", "terms", "provenance"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise PolicyError(f"overlay: unknown key {extra[0]!r}.", key=extra[0])
        if "version" not in data:
            raise PolicyError("overlay: 'version' is missing.", key="version")
        basis = dict(data.get("basis", {}))
        dd = dict(data.get("default_definition", {}))
        terms = []
        for name, spec in dict(data.get("terms", {})).items():
            bad = sorted(set(spec) - {"weight", "transform", "cap", "scale", "label",
                                      "prior_weight", "fit"})
            if bad:
                raise PolicyError(f"overlay terms.{name}: unknown key {bad[0]!r}.",
                                  key=f"terms.{name}.{bad[0]}")
            if "weight" not in spec:
                raise PolicyError(f"overlay terms.{name}.weight is missing.",
                                  key=f"terms.{name}.weight")
            terms.append(OverlayTerm(str(name), float(spec["weight"]),
                                     str(spec.get("transform", "linear")),
                                     float(spec.get("cap", math.inf)),
                                     float(spec.get("scale", 1.0)),
                                     str(spec.get("label", "")),
                                     _optional_float(spec.get("prior_weight")),
                                     TermFit.from_dict(f"terms.{name}.fit", spec["fit"])
                                     if "fit" in spec else None))
        provenance = {str(k): str(v) for k, v in dict(data.get("provenance", {})).items()}
        for sect, keys, got in (
            ("basis", ("max_statement_age_days", "no_financials_pd", "tax_return_pd",
                       "tax_return_model"), basis),
            ("default_definition", ("days_past_due", "materiality_absolute",
                                    "materiality_relative"), dd),
            ("provenance", _PROVENANCE, provenance)):
            bad = sorted(set(got) - set(keys))
            if bad:
                raise PolicyError(f"overlay {sect}: unknown key {bad[0]!r}.",
                                  key=f"{sect}.{bad[0]}")
        return cls(
            version=str(data["version"]), terms=tuple(terms),
            max_statement_age_days=int(basis.get("max_statement_age_days", 731)),
            no_financials_pd=float(basis.get("no_financials_pd", 0.05)),
            tax_return_pd=float(basis.get("tax_return_pd", 0.03)),
            tax_return_model=basis.get("tax_return_model", False),
            days_past_due=int(dd.get("days_past_due", 90)),
            materiality_absolute=float(dd.get("materiality_absolute", 500.0)),
            materiality_relative=float(dd.get("materiality_relative", 0.01)),
            provenance=tuple(sorted(provenance.items())),
        )

    def contributions(self, X: FloatArray) -> FloatArray:
        """Log-odds contribution of each term, shape ``(n, len(terms))``.

        Parameters
        ----------
        X : ndarray of shape (n, len(terms))
            The raw feature values, columns in :attr:`features` order; NaN
            contributes 0.

        Examples
        --------
        >>> o = Overlay("t", (OverlayTerm("adv_n_tier2", 1.0, "log1p"),))
        >>> o.contributions(np.array([[1.0], [np.nan]])).round(4).tolist()
        [[0.6931], [0.0]]
        """
        return _contributions(X, _OverlayStatic.of(self))


@dataclass(frozen=True)
class _OverlayStatic:
    """An overlay's term parameters as arrays, its features and the words of its reason
    codes (built once per overlay object: the single-debtor path pays no per-call
    rebuilding)."""

    overlay: Overlay
    features: tuple[str, ...]
    words: ReasonWords
    weight: FloatArray
    cap: FloatArray
    scale: FloatArray
    log: npt.NDArray[np.bool_]

    @staticmethod
    def of(ov: Overlay) -> _OverlayStatic:
        hit = _OVERLAY_STATIC.get(id(ov))
        if hit is not None and hit.overlay is ov:
            return hit
        terms = ov.terms
        out = _OverlayStatic(
            ov, tuple(t.feature for t in terms), reason_words(ov),
            np.array([t.weight for t in terms], dtype=np.float64),
            np.array([t.cap for t in terms], dtype=np.float64),
            np.array([t.scale for t in terms], dtype=np.float64),
            np.array([t.transform == "log1p" for t in terms], dtype=bool))
        if len(_OVERLAY_STATIC) > 64:
            _OVERLAY_STATIC.clear()
        _OVERLAY_STATIC[id(ov)] = out
        return out


_OVERLAY_STATIC: dict[int, _OverlayStatic] = {}


def model_rated(basis: npt.NDArray[np.int64], overlay: Overlay) -> npt.NDArray[np.bool_]:
    """Which debtors the PD model scores: those rated on statements, and those rated on
    a tax return when ``overlay.tax_return_model``; the others take their basis prior.

    Examples
    --------
    >>> o = Overlay("t", ())
    >>> model_rated(np.array([0, 1, 2]), o).tolist()
    [True, False, False]
    >>> model_rated(np.array([0, 1, 2]), Overlay("t", (), tax_return_model=True)).tolist()
    [True, True, False]
    """
    b = np.asarray(basis)
    return (b == 0) | ((b == 1) & overlay.tax_return_model)


def _contributions(X: FloatArray, st: _OverlayStatic) -> FloatArray:
    """:meth:`Overlay.contributions` on the overlay's static arrays."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, st.weight.shape[0])
    x = np.minimum(np.maximum(np.where(np.isnan(X), 0.0, X), 0.0), st.cap)
    x = np.where(st.log, np.log1p(x), x / st.scale)
    out: FloatArray = x * st.weight
    return out


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
